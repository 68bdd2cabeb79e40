"""Stand-in for the get-pip.py that ansible-test downloads to bootstrap pip
into each of its virtualenvs, from a host (ci-files.testing.ansible.com)
this project's machines cannot reach.

ansible-test runs it inside the new, empty virtualenv with pip's install
options and the packages to install (pip==X, ...), as it would get-pip.py.
Here pip comes from Python's own ensurepip, then installs those packages
from the index pip is configured with (PyPI), certificates verified as
usual. scripts/sanity puts it where ansible-test looks for its cached copy.
"""

import subprocess
import sys

# get-pip.py's own options, which pip install does not take.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

# In a process of its own: ensurepip points pip at no configuration file
# (PIP_CONFIG_FILE=/dev/null) in the environment of the process it runs in.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *args]))
