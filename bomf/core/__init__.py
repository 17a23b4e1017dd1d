"""The ground floor: what every other room uses and nothing here imports from them.

Errors (``errors``), where things live (``paths``), atomic writes (``atomic``), the name ->
object registry (``registry``), plugins from outside the package (``plugins``), Hub reachability (``hub``), device and precision (``device``),
and the provenance stamped on every record (``provenance``). Import the module you need
(``from bomf.core.paths import cache_dir``); this package re-exports only the few names nearly
every room uses.

Example:
    >>> from bomf.core import BomfError, Registry
    >>> Registry("colour").names()
    []
"""

from .atomic import read_json, write_json, write_text
from .errors import BomfError
from .paths import cache_dir, results_root
from .registry import Registry

__all__ = ["BomfError", "Registry", "cache_dir", "read_json", "results_root", "write_json", "write_text"]
