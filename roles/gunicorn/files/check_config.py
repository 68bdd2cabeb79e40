"""Checks a gunicorn.conf.py the way Gunicorn reads it, without the app.

Runs the file, then hands every setting it defines to Gunicorn's own Config,
which refuses a value of the wrong type; a name Gunicorn does not know is
refused too (Gunicorn would ignore it). Exits 1 naming the setting.
argv: the configuration file (a pipe will do: it is read once).
"""

import sys
import types

from gunicorn.config import Config

with open(sys.argv[1], encoding="utf-8") as handle:
    source = handle.read()
names = {"__file__": "gunicorn.conf.py", "__name__": "__config__"}
exec(compile(source, "gunicorn.conf.py", "exec"), names)  # noqa: S102 - the file Gunicorn itself would run
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
