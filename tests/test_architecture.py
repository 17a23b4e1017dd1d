"""The house: rooms import only downward, no import cycles, no private names across rooms.

The order below is the data flow drawn in docs/architecture.md. A module may import its own
room or a room on a lower floor; ``baselines/`` sits beside ``fusion/`` and is never imported
by the engine (the method registry finds it by name).
"""

import ast
from pathlib import Path

BOMF = Path(__file__).resolve().parents[1] / "bomf"

FLOORS = {
    "core": 0,
    "metrics": 1, "bo": 1, "models": 1,
    "tasks": 2,
    "evaluation": 3,
    "training": 4,
    "stage1": 5, "fusion": 5,
    "harness": 6, "reports": 6,
    "cli": 7,
}


def room_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "bomf" else None


def imports() -> list[tuple[str, str, list[str]]]:
    """(importing module, imported module, imported names) for every import of a bomf module."""
    out = []
    for path in BOMF.rglob("*.py"):
        rel = path.relative_to(BOMF.parent).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        package = module if rel.name == "__init__" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                out.append((module, target, [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                out.extend((module, a.name, []) for a in node.names)
    return out


def test_every_room_has_a_floor():
    rooms = {p.name for p in BOMF.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    rooms |= {p.stem for p in BOMF.glob("*.py") if p.stem != "__init__"}
    assert rooms == set(FLOORS)


def test_rooms_import_only_downward_and_never_baselines():
    wrong = []
    for module, target, _ in imports():
        if target == "baselines" or target.startswith("baselines."):
            wrong.append(f"{module} imports {target}")
            continue
        here, there = room_of(module), room_of(target)
        if here and there and here != there and FLOORS[there] >= FLOORS[here]:
            wrong.append(f"{module} ({here}, floor {FLOORS[here]}) imports {target} ({there}, floor {FLOORS[there]})")
    assert wrong == []


def test_no_private_names_cross_a_room():
    wrong = [f"{m} imports {n} from {t}" for m, t, names in imports() for n in names
             if n.startswith("_") and not n.startswith("__") and room_of(m) != room_of(t) and room_of(t)]
    assert wrong == []
