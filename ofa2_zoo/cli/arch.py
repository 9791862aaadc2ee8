"""``ofa2 arch``: inspect, validate and sample architecture specs of a search space."""

from __future__ import annotations

import json
from typing import Any, Optional

import typer
from rich.table import Table

from ._ui import AS_JSON, Col, console, print_json, print_table

app = typer.Typer(help="Inspect, validate and sample sub-network architectures.", no_args_is_help=True)

SPACE_HELP = "Search space (see `ofa2 arch spaces`); default: the space of the zoo's default profile"


def default_space() -> str:
    """The space of the zoo's default profile (what ``ofa2 run`` and ``ofa2 search`` search)."""
    from ..profiles import DEFAULT_PROFILE, load_profile

    return load_profile(DEFAULT_PROFILE).space.name


@app.command("show")
def show(
    arch: str = typer.Argument(..., help="Arch as an OFA dict in JSON ('{\"ks\": [...], \"e\": [...], \"d\": [...], "
                                         "\"r\": [224]}'), an arch string (r224-d4444...), or @FILE with JSON."),
    space: Optional[str] = typer.Option(None, "--space", "-s",
                                        help=SPACE_HELP + ", or the one registered space the arch fits."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
) -> None:
    """Validate ARCH, print its canonical form, gene vector, MACs and parameter count."""
    from ..errors import ArchError
    from ..objectives.efficiency import efficiency_model
    from ..space import find_space, get_space

    value, where = (_read_arch_file(arch[1:]), f"arch file {arch[1:]}: ") if arch.startswith("@") else (arch, "")
    sp = get_space(space) if space is not None else None
    try:
        spec, sp = find_space(value, default_space()) if sp is None else (_parse_in(value, sp), sp)
    except ArchError as exc:
        raise ArchError(f"{where}{exc}") from None
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


def _parse_in(value: Any, sp):
    """The arch in the space the user named; when it does not fit, say which ``--space`` would."""
    from ..errors import ArchError
    from ..space import ArchSpec, spaces_of_shape

    try:
        return ArchSpec.parse(value, sp)
    except ArchError as exc:
        fits = spaces_of_shape(value)
        if not fits or sp.name in fits:
            raise
        raise ArchError(f"{exc}; the arch's shape fits --space {' or '.join(fits)}") from None


MAX_ARCH_FILE = 1 << 20  # an arch is a few hundred bytes of JSON


def _read_arch_file(name: str) -> Any:
    """``@FILE``: the file holds the arch as JSON (an OFA dict); its text is never echoed back."""
    from pathlib import Path

    from .._io import read_json_capped
    from ..errors import ArchError, FileTooLarge

    path = Path(name)
    if not path.is_file():
        raise ArchError(f"arch file {path} does not exist (or is not a file)")
    try:
        return read_json_capped(path, MAX_ARCH_FILE)
    except FileTooLarge as exc:
        raise ArchError(f"arch file {path} is {exc.size:,} bytes; an arch is a small JSON object "
                        f"(at most {MAX_ARCH_FILE:,} bytes)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArchError(f"arch file {path} is not JSON: {exc} (fix: write the arch as JSON, "
                        '{"ks": [...], "e": [...], "d": [...], "r": [224]})') from None


@app.command("sample")
def sample(
    n: int = typer.Argument(5, min=1, max=10_000_000, help="How many architectures (at most 10,000,000)."),
    space: Optional[str] = typer.Option(None, "--space", "-s", help=SPACE_HELP + "."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
) -> None:
    """Print N uniformly random canonical architectures, one arch string per line."""
    from ..space import get_space

    for spec in get_space(space or default_space()).sample(n, seed):
        print(spec.to_string())


@app.command("spaces")
def spaces(as_json: bool = AS_JSON) -> None:
    """List the registered search spaces."""
    from ..space import get_space, list_spaces

    rows = [{"name": name, "stages": sp.n_stages, "max_depth": sp.max_depth, "kernels": list(sp.ks_choices),
             "expands": list(sp.expand_choices), "depths": list(sp.depth_choices),
             "resolutions": list(sp.resolutions), "networks_per_resolution": float(sp.size())}
            for name, sp in ((n, get_space(n)) for n in list_spaces())]
    if as_json:
        print_json(rows)
        return
    print_table([Col("name", "key"), Col("stages x blocks", "num"), Col("kernels"), Col("expands"), Col("depths"),
                 Col("resolutions"), Col("networks/res.", "num")],
                [[r["name"], f"{r['stages']}x{r['max_depth']}", str(r["kernels"]), str(r["expands"]), str(r["depths"]),
                  f"{r['resolutions'][0]}..{r['resolutions'][-1]} ({len(r['resolutions'])})",
                  f"{r['networks_per_resolution']:.2e}"] for r in rows])


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="arch")
