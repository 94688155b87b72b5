"""The environment that `make setup` builds: dolfinx and torch import side by side."""

import subprocess
import sys


def test_dolfinx_and_torch_import():
    code = (
        "import h5py; from mpi4py import MPI; import dolfinx, torch, torchvision, numba;"
        "print(dolfinx.__version__, torch.__version__)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("0.")


def test_python_is_new_enough_for_dolfinx():
    assert sys.version_info >= (3, 12)
