"""Checks a gunicorn.conf.py the way Gunicorn reads it, without the app.

Runs the file, then hands every setting it defines to Gunicorn's own Config,
which refuses a value of the wrong type; a name Gunicorn does not know is
refused too (Gunicorn would ignore it). Exits 1 naming the setting.
argv: the configuration file.
"""

import runpy
import sys
import types

from gunicorn.config import Config

names = runpy.run_path(sys.argv[1])
config = Config()
for name, value in names.items():
    if name.startswith("_") or isinstance(value, types.ModuleType):
        continue
    if name not in config.settings:
        sys.exit(f"gunicorn.conf.py: {name} is not a Gunicorn setting")
    try:
        config.set(name, value)
    except Exception as error:  # noqa: BLE001 - Gunicorn raises several types
        sys.exit(f"gunicorn.conf.py: {name} = {value!r}: {error}")
