"""pip install --no-build-isolation .  — builds the extension with CMake (the same library the CLI
uses, docs/python.md) into build-pip/ and installs the `rnnmft` package. Needs what ./run.sh
installs (a compiler, CMake, the Debian -dev packages, pybind11-dev)."""
import os
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(ROOT, "build-pip")
os.makedirs(BUILD, exist_ok=True)


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        out = os.path.dirname(os.path.abspath(self.get_ext_fullpath(ext.name)))
        jobs = str(os.cpu_count() or 2)
        subprocess.check_call([
            "cmake", "-S", ROOT, "-B", os.path.join(BUILD, "cmake"), "-DCMAKE_BUILD_TYPE=Release",
            "-DRNNMFT_BUILD_TESTS=OFF", "-DRNNMFT_CUDA=OFF", "-DRNNMFT_PYTHON=ON",
            f"-DRNNMFT_PYTHON_EXECUTABLE={sys.executable}", f"-DPython_EXECUTABLE={sys.executable}",
            f"-DRNNMFT_PYTHON_OUTPUT_DIR={out}"])
        subprocess.check_call(["cmake", "--build", os.path.join(BUILD, "cmake"), "--target",
                               "rnnmft_python", "-j", jobs])


setup(
    name="rnnmft",
    version="0.1.0",
    description="Mean field theory and critical initialization of LSTMs and GRUs",
    package_dir={"": "python"},
    packages=["rnnmft"],
    ext_modules=[CMakeExtension("rnnmft._rnnmft")],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.9",
    install_requires=["numpy"],
    zip_safe=False,
    options={"build": {"build_base": os.path.join(BUILD, "setuptools")},
             "egg_info": {"egg_base": BUILD}},
)
