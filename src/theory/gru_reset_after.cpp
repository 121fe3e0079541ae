// Equations: docs/theory.md §3.4 (fixed point, covariance map) and §5.3 (Jacobian moments).
#include "theory/gru_reset_after.h"

#include <algorithm>
#include <cmath>

namespace rnnmft::theory {

namespace {

double var_of(const GateInit& g, double Qin, double R) {
  return g.recurrent_std * g.recurrent_std * Qin + g.input_std * g.input_std * R +
         g.bias_std * g.bias_std;
}

// v given w = s_x ξ + r v (jointly Gaussian): v | w ~ N(β w, τ²) (§3.4).
struct VGivenW {
  double beta = 0, tau2 = 0;
  VGivenW(double r, double sv2, double sx2) {
    const double S2 = sx2 + r * r * sv2;
    if (S2 > 0) {
      beta = r * sv2 / S2;
      tau2 = sv2 * sx2 / S2;
    }
  }
  double m2(double w) const { return tau2 + beta * beta * w * w; }
  double m4(double w) const {
    const double b2w2 = beta * beta * w * w;
    return 3 * tau2 * tau2 + 6 * tau2 * b2w2 + b2w2 * b2w2;
  }
};

}  // namespace

ResetAfterCandidate::ResetAfterCandidate(const InitSpec& spec, const GaussHermite& outer,
                                         const GaussHermite& inner, double R, double Rab)
    : reset_(spec.gate("reset")),
      cand_(spec.gate("candidate")),
      outer_(outer),
      inner_(inner),
      R_(R),
      Rab_(Rab) {}

ResetAfterSums ResetAfterCandidate::sums(double Q) const {
  ResetAfterSums s;
  const double sx2 = var_of(cand_, 0.0, R_), sv2 = cand_.recurrent_std * cand_.recurrent_std * Q;
  const double qr = std::sqrt(std::max(var_of(reset_, Q, R_), 0.0)), mu = cand_.bias_mean;
  const auto &xo = outer_.nodes(), &wo = outer_.weights();
  const auto &xi = inner_.nodes(), &wi = inner_.weights();
  for (size_t i = 0; i < xo.size(); ++i) {
    const double r = sigmoid(reset_.bias_mean + qr * xo[i]), rp = r * (1 - r);
    const double r2 = r * r, rp2 = rp * rp;
    const double S = std::sqrt(sx2 + r2 * sv2);
    const VGivenW v(r, sv2, sx2);
    for (size_t j = 0; j < xi.size(); ++j) {
      const double w = S * xi[j], h = std::tanh(mu + w), hp = 1 - h * h, hp2 = hp * hp;
      const double p = wo[i] * wi[j], v2 = v.m2(w), v4 = v.m4(w);
      double hn = p;
      for (int n = 0; n <= 4; ++n, hn *= h) s.z[n] += hn;
      const double a = p * hp2 * r2, b = p * hp2 * rp2 * v2;
      s.hp2r2 += a;
      s.h1hp2r2 += a * h;
      s.h2hp2r2 += a * h * h;
      s.hp2rp2v2 += b;
      s.h1hp2rp2v2 += b * h;
      s.h2hp2rp2v2 += b * h * h;
      s.hp4r4 += p * hp2 * hp2 * r2 * r2;
      s.hp4rp4v4 += p * hp2 * hp2 * rp2 * rp2 * v4;
      s.hp4r2rp2v2 += p * hp2 * hp2 * r2 * rp2 * v2;
    }
  }
  return s;
}

std::array<double, 5> ResetAfterCandidate::z_moments(double Q) const {
  std::array<double, 5> z{};
  const double sx2 = var_of(cand_, 0.0, R_), sv2 = cand_.recurrent_std * cand_.recurrent_std * Q;
  const double qr = std::sqrt(std::max(var_of(reset_, Q, R_), 0.0)), mu = cand_.bias_mean;
  const auto &xo = outer_.nodes(), &wo = outer_.weights();
  const auto &xi = inner_.nodes(), &wi = inner_.weights();
  for (size_t i = 0; i < xo.size(); ++i) {
    const double r = sigmoid(reset_.bias_mean + qr * xo[i]);
    const double S = std::sqrt(sx2 + r * r * sv2);
    for (size_t j = 0; j < xi.size(); ++j) {
      const double h = std::tanh(mu + S * xi[j]);
      double hn = wo[i] * wi[j];
      for (int n = 0; n <= 4; ++n, hn *= h) z[n] += hn;
    }
  }
  return z;
}

double ResetAfterCandidate::pair(double Q, double Qab) const {
  // Outer: (u^{r,a}, u^{r,b}) jointly Gaussian; inner: (u^a, u^b) given the two reset values,
  // variances s_x² + r_a² σ_n² Q and s_x² + r_b² σ_n² Q, covariance s_xab + r_a r_b σ_n² Q_ab.
  const double sx2 = var_of(cand_, 0.0, R_), sxab = var_of(cand_, 0.0, Rab_);
  const double sn2 = cand_.recurrent_std * cand_.recurrent_std;
  const double qr = var_of(reset_, Q, R_), cr = std::min(var_of(reset_, Qab, Rab_), qr);
  const double s1 = std::sqrt(std::max(qr, 0.0));
  const double a = s1 > 0 ? cr / s1 : 0.0, b = std::sqrt(std::max(qr - a * a, 0.0));
  const double mr = reset_.bias_mean, mu = cand_.bias_mean;
  const auto &x = outer_.nodes(), &w = outer_.weights();
  double acc = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double ra = sigmoid(mr + s1 * x[i]), va = sx2 + ra * ra * sn2 * Q;
    double inner = 0;
    for (size_t j = 0; j < x.size(); ++j) {
      const double rb = sigmoid(mr + a * x[i] + b * x[j]), vb = sx2 + rb * rb * sn2 * Q;
      const double c = std::min(sxab + ra * rb * sn2 * Qab, std::sqrt(va * vb));
      inner += w[j] * inner_.expect_product(GaussHermite::Act::Tanh, mu, va, mu, vb, c);
    }
    acc += w[i] * inner;
  }
  return acc;
}

}  // namespace rnnmft::theory
