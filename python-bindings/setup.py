"""Build hook of the pdc package: everything is in pyproject.toml except
one generated file, pdc/_build_info.py, which records the source tree the
package was installed from, so that an installed pdc can still find
libpdc in that tree's build directories (see pdc/_lib.py)."""

import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildPyWithInfo(build_py):
    def run(self):
        super().run()
        path = os.path.join(self.build_lib, "pdc", "_build_info.py")
        with open(path, "w") as f:
            f.write('"""Written by setup.py at install time."""\n')
            f.write("SOURCE_DIR = %r\n" % HERE)


setup(cmdclass={"build_py": BuildPyWithInfo})
