"""What goes into the wheel (everything else about the project is in pyproject.toml).

The repository keeps ``baselines/`` and ``benchmarks/suites/`` at the top level, where a reader
looks for them; a wheel must not claim the generic import name ``baselines``, and an installed
``bomf run smoke`` needs its suites. So the build maps both into the ``bomf`` namespace:

    baselines/*.py             -> bomf/baselines/*.py   (the method registry imports bomf.baselines)
    benchmarks/suites/*.toml   -> bomf/suites/*.toml    (bomf.harness.suite finds suites there)

An editable install (``pip install -e .``) maps the same names onto the same folders.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["bomf", "bomf.*"]) + ["bomf.baselines", "bomf.suites"],
    package_dir={"bomf.baselines": "baselines", "bomf.suites": "benchmarks/suites"},
    package_data={"bomf.suites": ["*.toml"]},
)
