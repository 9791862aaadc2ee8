"""``ofa2 arch``: inspect, validate and sample architecture specs of a search space."""

from __future__ import annotations

import json
import re
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ..errors import ArchError
from ..objectives.efficiency import efficiency_model
from ..space import ArchSpec, SearchSpace, get_space, list_spaces

console = Console()
app = typer.Typer(help="Inspect, validate and sample sub-network architectures.", no_args_is_help=True)

SPACE_HELP = ("Search space: " + ", ".join(list_spaces()) + " (or another registered space); default: the space "
              "of the zoo's default profile")
_STRING_SHAPE = re.compile(r"^r\d+-d(\d+)-k([0-9x]+)-e[0-9x]+$")


def default_space() -> str:
    """The space of the zoo's default profile (what ``ofa2 run`` and ``ofa2 search`` search)."""
    from ..profiles import DEFAULT_PROFILE, load_profile

    return load_profile(DEFAULT_PROFILE).space.name


def _shape(text: str) -> tuple[int, int] | None:
    """(blocks, stages) an arch string or OFA dict gives, or None when it does not say."""
    m = _STRING_SHAPE.match(text.strip())
    if m:
        return len(m.group(2)), len(m.group(1))
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if isinstance(data, dict) and isinstance(data.get("ks"), list) and isinstance(data.get("d"), list):
        return len(data["ks"]), len(data["d"])
    return None


def _parse_in_any_space(text: str) -> tuple[ArchSpec, SearchSpace]:
    """Parse an arch without ``--space``: the default space when it fits, else the one
    registered space whose block and stage counts (and choices) fit; otherwise say which fit."""
    default = get_space(default_space())
    shape = _shape(text)
    if shape is None or shape == (default.n_blocks, default.n_stages):
        return ArchSpec.parse(text, default), default
    spaces = [get_space(n) for n in list_spaces()]
    same = [sp for sp in spaces if (sp.n_blocks, sp.n_stages) == shape]
    if not same:
        known = ", ".join(f"{sp.name} ({sp.n_blocks} blocks, {sp.n_stages} stages)" for sp in spaces)
        raise ArchError(f"the arch has {shape[0]} blocks in {shape[1]} stages; no registered space has that shape "
                        f"(known: {known})")
    parsed, first_error = [], None
    for sp in same:
        try:
            parsed.append((ArchSpec.parse(text, sp), sp))
        except ArchError as exc:
            first_error = first_error or exc
    if len(parsed) == 1:
        return parsed[0]
    names = ", ".join(sp.name for sp in (same if not parsed else [p[1] for p in parsed]))
    if not parsed:
        raise ArchError(f"{first_error} (in spaces {names})")
    raise ArchError(f"the arch fits several spaces ({names}); pass --space with one of them")


@app.command("show")
def show(
    arch: str = typer.Argument(..., help="Arch as an OFA dict in JSON ('{\"ks\": [...], \"e\": [...], \"d\": [...], "
                                         "\"r\": [224]}'), an arch string (r224-d4444...), or @FILE with JSON."),
    space: Optional[str] = typer.Option(None, "--space", "-s",
                                        help=SPACE_HELP + ", or the one registered space the arch fits."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
) -> None:
    """Validate ARCH, print its canonical form, gene vector, MACs and parameter count."""
    if arch.startswith("@"):
        from pathlib import Path

        path = Path(arch[1:])
        if not path.is_file():
            raise ArchError(f"arch file {path} does not exist")
        arch = path.read_text()
    if space is None:
        spec, sp = _parse_in_any_space(arch)
    else:
        sp = get_space(space)
        try:
            spec = ArchSpec.parse(arch, sp)
        except ArchError as exc:
            shape = _shape(arch)
            fits = [n for n in list_spaces() if shape == (get_space(n).n_blocks, get_space(n).n_stages)]
            raise ArchError(f"{exc}; the arch's shape fits --space {' or '.join(fits)}" if fits and sp.name not in fits
                            else str(exc)) from None
    em = efficiency_model(sp)
    genes = sp.archs_to_genes([spec])
    info = {"space": sp.name, "arch": spec.to_dict(), "string": spec.to_string(), "genes": genes[0].tolist(),
            "macs_m": float(em.macs_genes(genes)[0]) / 1e6, "params_m": float(em.params_genes(genes)[0]) / 1e6}
    if as_json:
        print(json.dumps(info))
        return
    table = Table(show_header=False, box=None)
    for key, value in info.items():
        table.add_row(f"[bold]{key}[/]", str(round(value, 3) if isinstance(value, float) else value))
    console.print(table)


@app.command("sample")
def sample(
    n: int = typer.Argument(5, min=1, help="How many architectures."),
    space: Optional[str] = typer.Option(None, "--space", "-s", help=SPACE_HELP + "."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
) -> None:
    """Print N uniformly random canonical architectures, one arch string per line."""
    for spec in get_space(space or default_space()).sample(n, seed):
        print(spec.to_string())


@app.command("spaces")
def spaces() -> None:
    """List the registered search spaces."""
    table = Table("name", "stages x blocks", "kernels", "expands", "depths", "resolutions", "networks/res.")
    for name in list_spaces():
        sp = get_space(name)
        res = sp.resolutions
        table.add_row(name, f"{sp.n_stages}x{sp.max_depth}", str(list(sp.ks_choices)), str(list(sp.expand_choices)),
                      str(list(sp.depth_choices)), f"{res[0]}..{res[-1]} ({len(res)})", f"{sp.size():.2e}")
    console.print(table)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="arch")
