// Init spec JSON files (`--init spec.json`, spec/init_spec.h), and the round trip of what loads.
#include "fuzz_file.h"
#include "spec/init_spec.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_input(data, size, "spec.json");
  try {
    const rnnmft::InitSpec spec = rnnmft::load_spec_file(path);
    rnnmft::InitSpec::from_json(spec.to_json(), "round trip");
  } catch (const rnnmft::Error&) {
  }
  return 0;
}
