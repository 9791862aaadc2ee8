"""``ofa2 publish`` and ``ofa2 pull``: versioned Hub repos for a package, and fetching them back."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._ui import QUIET, err_console, make_console, progress

console = make_console(plain=True)  # repo ids and paths stay whole on one line


def publish(
    package_dir: Path = typer.Argument(..., help="Package folder written by `ofa2 package` (or `ofa2 run`)."),
    namespace: str = typer.Option(..., "--namespace", "-n", help="Hub user or organization that owns the repos "
                                                                 "(<namespace>/ofa2-<profile>-front[-<k>])."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Read the Hub and print exactly what would be created or "
                                                          "changed; change nothing."),
    version: Optional[str] = typer.Option(None, help="Version tag to create (default: the next v<N>). Refused if it "
                                                     "exists with different content."),
    index: Optional[Path] = typer.Option(None, help="Zoo index file to record the version in (default: the user "
                                                    "zoo index, $OFA2_USER_INDEX or zoo_index.json in the ofa2 "
                                                    "cache folder; CI passes the repository's "
                                                    "ofa2_zoo/data/zoo_index.json)."),
    update_index: bool = typer.Option(True, "--update-index/--no-index", help="Record the version in the zoo index."),
    retries: int = typer.Option(5, min=1, max=20, help="Attempts per Hub operation on 5xx, timeouts and resets "
                                                       "(exponential backoff)."),
    timeout: float = typer.Option(60.0, min=1.0, help="Seconds before a stalled Hub request counts as failed."),
    quiet: bool = QUIET,
) -> None:
    """Publish a packaged front to the Hub (HF_ENDPOINT) as an immutable version tagged v<N>."""
    from ..publish import PublishFailed, RetryPolicy
    from ..publish import publish as run_publish

    with progress(quiet) as bar:
        task = bar.add_task("reading the package and the Hub", total=None)
        try:
            result = run_publish(package_dir, namespace, dry_run=dry_run, version=version, index_path=index,
                                 update_index=update_index, retry=RetryPolicy(attempts=retries), timeout=timeout,
                                 say=lambda line: bar.console.print(line, highlight=False, soft_wrap=True),
                                 progress=lambda step, done, total: bar.update(task, description=step,
                                                                               completed=done, total=total))
        except PublishFailed as exc:
            for line in exc.result.lines():
                err_console.print(line)
            err_console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(1) from None
    n = len(result.repos)
    console.print(f"[bold]{result.status}[/]: {result.profile} {result.version}"
                  + (f" ({n} repos)" if n else ""))


def pull(
    name: str = typer.Argument(..., help="ofa2_<profile>_front_<k>[.vN], ofa2_front_<k>[.vN] (default profile) or a "
                                         "Hub repo org/repo[@vN]."),
    index: Optional[Path] = typer.Option(None, help="Zoo index to resolve names with (default: the shipped index "
                                                    "and the user index together)."),
    local_dir: Optional[Path] = typer.Option(None, help="Also place the files in this folder (default: only the "
                                                        "Hugging Face cache)."),
) -> None:
    """Download exactly one published version of a front member into the Hugging Face cache."""
    from ..publish import pull as run_pull

    with console.status(f"pulling {name} ..."):
        result = run_pull(name, index_path=index, local_dir=local_dir)
    t = result.target
    console.print(f"{t.name}: {t.repo_id}@{t.revision}" + (f" (commit {result.commit})" if result.commit else ""))
    console.print(f"files:  {', '.join(result.files)}")
    console.print(f"path:   {result.path}")


PUBLISH_HELP = " ".join("""
Publish a packaged front to the Hub (HF_ENDPOINT) as an immutable version tagged v<N>: one repo per member plus
one front repo, one commit per repo, then the tag on every repo once all commits are in. An identical front
publishes nothing; a run that failed part-way is completed by running it again. The token comes from HF_TOKEN
or `hf auth login` and is never printed.
""".split())
PULL_HELP = " ".join("""
Download exactly one published version of a front member into the Hugging Face cache. Works offline
(HF_HUB_OFFLINE=1) for versions already in the cache; timm then loads the same files:
timm.create_model("<name>.vN", pretrained=True).
""".split())


def register(app: typer.Typer) -> None:
    app.command("publish", help=PUBLISH_HELP)(publish)
    app.command("pull", help=PULL_HELP)(pull)
