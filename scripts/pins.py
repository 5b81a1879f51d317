"""What a test or demo environment holds, for scripts/setup and scripts/newest (any Python ≥ 3.13).

`python scripts/pins.py requirements`: the integration's requirements (manifest.json), one a line.
`python scripts/pins.py freeze FILE`: writes every installed distribution as `name==version`.
`python scripts/pins.py drift FILE`: prints `name==version` (as FILE recorded it) for every
distribution whose version changed or that is gone, and exits 1 when there is one.
`python scripts/pins.py overrides FILE OUT`: writes FILE's pins less the packages Home Assistant
constrains itself (its package_constraints.txt), for uv's UV_OVERRIDE.

Why: Home Assistant installs an integration's requirements at run time (`uv pip install
--upgrade`), which moves packages the environment pinned (it took pycares past `<5`, and aiodns
3.2.0 broke). The recorded freeze is how scripts/setup notices and undoes that, and the demo
hands the same file to uv as its overrides (UV_OVERRIDE), so nothing installed at run time can
move what is there.
"""

from __future__ import annotations

from importlib.metadata import distributions
import importlib.util
import json
from pathlib import Path
import re
import sys

MANIFEST = Path(__file__).resolve().parents[1] / "custom_components/home_battery/manifest.json"
UNTRACKED = {"pip", "setuptools", "wheel"}  # the installer's own tools, upgraded on purpose


def _name(raw: str) -> str:
    """Normalise a distribution name (PEP 503), so `Foo_bar` and `foo-bar` are one package."""
    return re.sub(r"[-_.]+", "-", raw).lower()


def installed() -> dict[str, str]:
    """Return every distribution on sys.path by normalised name (the first one found wins)."""
    found: dict[str, str] = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name and _name(name) not in UNTRACKED:
            found.setdefault(_name(name), dist.version)
    return found


def drift(recorded_file: Path) -> list[str]:
    """Return `name==version` as recorded for each distribution that changed or is gone."""
    now = installed()
    changed: list[str] = []
    for line in recorded_file.read_text().splitlines():
        name, _, version = line.partition("==")
        if now.get(name) != version:
            if not changed:
                print("Packages moved since they were installed:", file=sys.stderr)
            print(f"  {name}: {version} then, {now.get(name, 'missing')} now", file=sys.stderr)
            changed.append(line)
    return changed


def overrides(recorded_file: Path) -> list[str]:
    """Return the recorded pins of packages Home Assistant's own constraints leave free.

    Home Assistant installs with `--constraint package_constraints.txt`; an override of a package
    it constrains to another version (async-timeout: 5.0.1 installed, 4.0.3 constrained) makes
    every install fail, so those stay Home Assistant's to choose.
    """
    spec = importlib.util.find_spec("homeassistant")
    if spec is None or spec.origin is None:
        return recorded_file.read_text().splitlines()
    constraints = Path(spec.origin).parent / "package_constraints.txt"
    constrained = {
        _name(match.group(0))
        for line in constraints.read_text().splitlines()
        if (match := re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line.strip()))
    }
    lines = recorded_file.read_text().splitlines()
    return [line for line in lines if line.partition("==")[0] not in constrained]


def main(argv: list[str]) -> int:
    """Run one command (see the module's docstring)."""
    match argv:
        case ["requirements"]:
            print("\n".join(json.loads(MANIFEST.read_text())["requirements"]))
        case ["freeze", path]:
            lines = [f"{name}=={version}" for name, version in sorted(installed().items())]
            Path(path).write_text("\n".join(lines) + "\n")
        case ["overrides", path, out]:
            Path(out).write_text("\n".join(overrides(Path(path))) + "\n")
        case ["drift", path]:
            changed = drift(Path(path))
            print("\n".join(changed))
            return 1 if changed else 0
        case _:
            print(__doc__, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
