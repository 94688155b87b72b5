"""Write envs/microprop.yaml, the per-rule conda environment, from requirements.lock.

Snakemake copies an environment file to .snakemake/conda/<hash>.yaml before it builds it,
so the file must not point at the workflow by a relative path (`-e ..` would name
.snakemake/). It pins every package of the lock instead (without the hashes, which conda's
pip section cannot pass on); the rule scripts import microprop from the workflow's own
src/, which the Snakefile puts on PYTHONPATH. Run by `make lock`:

    python envs/conda_from_lock.py requirements.lock > envs/microprop.yaml
"""

import re
import sys

HEADER = """\
# Conda environment for cluster users who deploy software per rule:
#   snakemake --software-deployment-method conda ...
# GENERATED from requirements.lock by `make lock` (envs/conda_from_lock.py): do not edit.
# Every package is pinned to the lock; microprop itself comes from the workflow's src/
# (the Snakefile puts it on PYTHONPATH), so no path to the workflow appears here.
# The dolfinx wheel (dolfinx-solver-real) needs Python >= 3.12.
name: microprop
channels:
  - conda-forge
dependencies:
  - python=3.12
  - pip
  - pip:
"""

# `name==version` or `name==version ; marker` at the start of a line of the lock
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*==[^\s;\\]+)(\s*;\s*[^\\]+?)?\s*\\?$")


def pins(lock_text: str) -> list[str]:
    """The lock's pinned requirements (with their environment markers), hashes dropped."""
    out = []
    for line in lock_text.splitlines():
        m = PIN.match(line)
        if m:
            marker = f" ; {m.group(2).strip().lstrip(';').strip()}" if m.group(2) else ""
            out.append(m.group(1) + marker)
    return out


def main(path: str) -> None:
    with open(path) as fh:
        lines = pins(fh.read())
    sys.stdout.write(HEADER + "".join(f'      - "{pin}"\n' for pin in lines))


if __name__ == "__main__":
    main(sys.argv[1])
