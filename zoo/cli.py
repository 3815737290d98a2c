"""The ``zoo`` command line.

    zoo list KIND [PATTERN] [--json] [--refresh] [--pretrained] [--where EXPR] [--sort COLS] [--columns COLS]
             [--compute-cards]
    zoo info KIND NAME [KEY=VALUE ...] [--json]
    zoo plugins [--json]
    zoo run RECIPE [KEY=VALUE ...] [--output DIR] [--resume DIR] [--dry-run]
    zoo sweep RECIPE KEY=V1,V2 'KEY=loguniform(A,B)' ... [--trials N] [--sampler tpe|random|grid]
              [--seeds K] [--workers W] [--storage URL] [--prune median|hyperband] [--objective NAME]
              [--output DIR] | --join SWEEP | --resume SWEEP_DIR
    zoo eval RUN_DIR [KEY=VALUE ...] [--json]
    zoo predict RUN_DIR|MODEL_FILE IMAGE_OR_FOLDER... [--top-k K] [--batch-size N] [--on-error skip|stop] [--json|--csv]
    zoo export RUN_DIR --format onnx|exported|torchscript|safetensors [--output PATH] [--force]
    zoo cache [show|clear] [ENTRY ...] [--json]
    zoo schema [--output FILE]
    zoo runs [DIR] [--json] [--sort COL] [--reverse] [--state STATE] [--name PATTERN] [--limit N]
    zoo compare RUN_OR_SWEEP... [--json] [--plot FILE] [--no-plot] [--force]

Exit status: 0 on success, 2 for a user's mistake (printed as one ``zoo: error: ...`` line, no
traceback unless ``--debug``), 1 for a failure while running. A library's warning is one
``zoo: warning: ...`` line (``zoo.console_warnings``). This module imports only the
standard library and zoo's light modules: torch and the plugins are imported by the commands
that need them, never to list a cached catalog.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import Optional, Sequence

from zoo._version import __version__
from zoo.console_warnings import one_line_warnings
from zoo.errors import Interrupted, RunFailure, UserError
from zoo.kinds import KINDS, LISTABLE
from zoo.type_text import printable


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one ``zoo: error:`` line (exit 2), like every other."""

    intermixed = False  # options and positionals in any order: ``zoo list models --pretrained 'resnet50*'``
    _parsing = False

    def error(self, message: str) -> None:  # type: ignore[override]
        if self.prog == "zoo list" and message == "argument --sort: expected one argument":
            message += ("; to sort high to low write --sort=-top1 (with '=': argparse reads a word "
                        "starting with '-' as an option)")
        raise UserError(f"{message} (see '{self.prog} --help')")

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        """argparse's parse, or, for a parser made ``intermixed``, its ``parse_known_intermixed_args``
        (which a positional with ``nargs='?'`` after an option needs)."""
        if not self.intermixed or self._parsing:  # the intermixed parse calls this twice itself
            return super().parse_known_args(args, namespace)
        self._parsing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._parsing = False


def build_parser() -> ArgumentParser:
    """The ``zoo`` argument parser: one subcommand per command (see the module docstring)."""
    parser = ArgumentParser(
        prog="zoo",
        description="A plugin-based model zoo for PyTorch: list components, run YAML recipes.",
        epilog=examples(EXAMPLES["zoo"]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"zoo {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)

    p = commands.add_parser("list", help="list installed models, datasets, ... or recipes")
    p.intermixed = True
    p.add_argument("kind", metavar="KIND", help=" | ".join(LISTABLE))
    p.add_argument("pattern", nargs="?", metavar="PATTERN", help="glob on names, e.g. 'resnet*'")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.add_argument("--refresh", action="store_true", help="rebuild the catalog cache first")
    p.add_argument("--pretrained", action="store_true",
                   help="models: one row per pretrained tag (timm/resnet50.a1_in1k), each usable as model.name")
    p.add_argument("--where", metavar="EXPR",
                   help="models: filter on card columns, e.g. 'params < 10M and pretrained' (see the README)")
    p.add_argument("--sort", metavar="COLS", help="models: sort by columns, -COL high to low (--sort=-top1)")
    p.add_argument("--columns", metavar="COLS", help="models: the columns shown, e.g. name,params,gmacs,top1")
    p.add_argument("--compute-cards", action="store_true",
                   help="models: first compute the cards missing (parameters, GMACs; once per source version)")

    p = commands.add_parser("info", help="show one entry: plugin, parameters (its recipe schema), docs")
    p.add_argument("kind", metavar="KIND", help=" | ".join([k.singular for k in KINDS] + ["recipe"]))
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="arguments for the factory, e.g. freeze=features (for parameter counts)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = commands.add_parser("run", help="run a recipe: train, keep the best, test, report")
    p.add_argument("recipe", nargs="?", metavar="RECIPE", help="a YAML file or a recipe name")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="override recipe keys, e.g. optimizer.lr=0.1 task.epochs=2 (values are YAML)")
    p.add_argument("--output", metavar="DIR", help="the run folder (default runs/<name>/<timestamp>)")
    p.add_argument("--resume", metavar="DIR", help="continue a stopped run from its last checkpoint")
    p.add_argument("--dry-run", action="store_true",
                   help="validate everything (names, keys, data files) and print the resolved recipe")

    p = commands.add_parser("sweep", help="run a recipe over a grid or sampled settings (Optuna), compare the trials")
    p.add_argument("recipe", nargs="?", metavar="RECIPE", help="a YAML file or a recipe name")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUES",
                   help="KEY=A,B,C (a list), 'KEY=loguniform(A,B)', 'KEY=uniform(A,B)', 'KEY=int(A,B)', "
                        "or KEY=VALUE fixed for every trial (values are YAML)")
    p.add_argument("--trials", type=int, metavar="N", help="how many trials (default: the whole grid; needed for ranges)")
    p.add_argument("--sampler", metavar="tpe|random|grid", help="default: grid when every key is a list, else tpe")
    p.add_argument("--seeds", type=int, default=1, metavar="K", help="run each setting with K seeds: mean and spread")
    p.add_argument("--workers", type=int, default=1, metavar="W",
                   help="trials in W parallel processes, each given its share of the cores")
    p.add_argument("--threads", type=int, metavar="N", help="torch threads per worker (default: the cores / W)")
    p.add_argument("--storage", metavar="URL",
                   help="the study's storage: a database URL Optuna takes, or a journal file (default: study.db in the sweep folder)")
    p.add_argument("--join", metavar="SWEEP", help="add this machine's workers to a sweep: its folder, or its study name with --storage")
    p.add_argument("--prune", metavar="median|hyperband", help="stop trials early on the per-epoch validation loss")
    p.add_argument("--resume", metavar="SWEEP_DIR", help="continue a sweep stopped by Ctrl-C or a kill")
    p.add_argument("--objective", default="valid_loss", metavar="NAME",
                   help="valid_loss (default: best validation loss) or a name in report.json such as test.accuracy")
    p.add_argument("--output", metavar="DIR", help="the sweep folder (default sweeps/<name>/<timestamp>)")
    p.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)

    p = commands.add_parser("eval", help="test a finished run again, optionally on other data")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (runs/<name>/<timestamp>)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="override the run's recipe keys, e.g. data.root=other_folder (values are YAML)")
    p.add_argument("--json", action="store_true", help="print the evaluation as JSON")

    p = commands.add_parser("predict", help="classify images with a run's best model or an exported file")
    p.add_argument("run_dir", metavar="RUN_DIR|MODEL_FILE",
                   help="a run folder (runs/<name>/<timestamp>) or a file written by zoo export")
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_FOLDER",
                   help="image files (PNG, JPEG, ...), folders (searched recursively) or globs ('photos/*.jpg')")
    p.add_argument("--top-k", type=int, default=3, metavar="K", help="classes shown per image (default 3)")
    p.add_argument("--batch-size", type=int, default=64, metavar="N", help="images per batch (default 64)")
    p.add_argument("--on-error", choices=("skip", "stop"), default="skip",
                   help="a file that is not a readable image: skip it with a warning, predict the rest and exit 1 "
                        "(default), or stop at it (exit 2)")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print a JSON array")
    shown.add_argument("--csv", action="store_true", help="print CSV: path,rank,class,probability")

    p = commands.add_parser("export", help="write a run's best model as ONNX, torch.export, TorchScript or safetensors")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (runs/<name>/<timestamp>)")
    p.add_argument("--format", required=True, metavar="FORMAT",
                   help="onnx | exported (a torch.export .pt2) | torchscript | safetensors")
    p.add_argument("--output", metavar="PATH", help="the file to write (default RUN_DIR/exported/model.<format's suffix>)")
    p.add_argument("--force", action="store_true", help="replace the file if it exists")

    p = commands.add_parser("cache", help="show or clear zoo's caches: features kept across runs, plugin catalogs")
    p.add_argument("action", nargs="?", metavar="show|clear", help="show (the default) or clear")
    p.add_argument("entries", nargs="*", metavar="ENTRY",
                   help="clear only these: an entry's name or key prefix (see zoo cache show), features, catalog or cards")
    p.add_argument("--json", action="store_true", help="show: print a JSON array")

    p = commands.add_parser("schema", help="write the JSON Schema of recipes, for editors to complete and check them")
    p.add_argument("--output", metavar="FILE", help="write it to FILE (replaced whole) instead of printing it")

    p = commands.add_parser("runs", help="list run folders: state, epochs, best validation loss, test accuracy")
    p.add_argument("dir", nargs="?", metavar="DIR", help="a runs tree, a sweep folder or a run folder (default runs)")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.add_argument("--sort", default="started", metavar="COL",
                   help="started (newest first, the default), name, state, epochs, valid_loss (lowest first), "
                        "test_accuracy (highest first), test_loss, seconds")
    p.add_argument("--reverse", action="store_true", help="the other way round")
    p.add_argument("--state", action="append", default=[], metavar="STATE",
                   help="only runs in this state (finished, failed, interrupted, pruned, running, killed, "
                        "unknown); repeat it or use commas")
    p.add_argument("--name", metavar="PATTERN", help="only runs whose recipe name matches this glob")
    p.add_argument("--limit", type=int, metavar="N", help="at most N runs")

    p = commands.add_parser("compare", help="compare runs: recipe differences, results, validation curves")
    p.add_argument("targets", nargs="+", metavar="RUN_OR_SWEEP", help="run folders, or sweep folders (their trials)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", metavar="FILE", help="the curves picture (.png; default comparisons/<timestamp>.png)")
    p.add_argument("--no-plot", action="store_true", help="draw no picture")
    p.add_argument("--force", action="store_true", help="replace the --plot file if it exists")

    p = commands.add_parser("plugins", help="list plugins: distribution, version, contributions, failures")
    p.add_argument("--json", action="store_true", help="print a JSON array")

    for name, command in commands.choices.items():  # --debug is accepted after the command too
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show tracebacks for errors")
        if name in EXAMPLES:
            command.epilog = examples(EXAMPLES[name])
            command.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


# Shown by --help: what a user types, and what it does. Each parses with build_parser (a test checks).
EXAMPLES = {
    "zoo": [
        ("zoo run recipes/quickstart.yaml", "train the quickstart recipe, test it, leave a run folder"),
        ("zoo run quickstart task.epochs=2 --dry-run", "check a recipe with an override; train nothing"),
        ("zoo list models 'resnet*'", "find components by name (models, datasets, losses, ...)"),
        ("zoo info model timm/resnet18", "a component's recipe keys, types, defaults and docs"),
        ("zoo eval runs/quickstart/20250101-120000", "test a finished run's best checkpoint again"),
        ("zoo predict runs/quickstart/20250101-120000 digit.png", "classify your own images"),
    ],
    "list": [
        ("zoo list models", "every model, from the catalog cache"),
        ("zoo list models 'resnet*'", "a glob on names (also inside namespaces: timm/resnet18)"),
        ("zoo list recipes", "recipes in ./recipes and those plugins ship"),
        ("zoo list datasets --json", "as JSON objects"),
        ("zoo list models --where 'params < 10M and pretrained' --sort=-top1", "filter and sort by the cards"),
        ("zoo list models 'resnet50*' --pretrained --columns name,params,gmacs,top1", "every pretrained tag"),
        ("zoo list models 'timm/*' --compute-cards", "compute the cards timm does not publish (once per version)"),
    ],
    "info": [
        ("zoo info model timm/resnet18", "parameters with defaults: the keys a recipe's model: section takes"),
        ("zoo info model densenet121 freeze=features", "parameter counts as the recipe would build it"),
        ("zoo info task classification", "the task's options, sections and checkpoints"),
        ("zoo info recipe quickstart", "a recipe's file and text"),
    ],
    "run": [
        ("zoo run recipes/quickstart.yaml", "train, keep the best checkpoint, test, report"),
        ("zoo run quickstart optimizer.lr=0.01 task.epochs=2", "override any key (values are YAML)"),
        ("zoo run quickstart --dry-run", "check names, keys, data and one batch; print the resolved recipe"),
        ("zoo run quickstart --output runs/try1", "into a folder of your choice (new or empty)"),
        ("zoo run --resume runs/quickstart/20250101-120000", "continue a stopped run from its last checkpoint"),
    ],
    "sweep": [
        ("zoo sweep quickstart optimizer.lr=0.01,0.002 model.dropout=0.2,0.5", "a grid: 4 trials, a table at the end"),
        ("zoo sweep quickstart 'optimizer.lr=loguniform(1e-4,1e-1)' task.epochs=5 --trials 20", "sampled (TPE)"),
        ("zoo sweep quickstart optimizer.lr=0.01,0.002 --seeds 3 --workers 2", "3 seeds each, 2 processes"),
        ("zoo sweep --resume sweeps/quickstart/20250101-120000", "continue after Ctrl-C or a kill"),
        ("zoo sweep --join sweeps/quickstart/20250101-120000", "another worker for a running sweep"),
    ],
    "eval": [
        ("zoo eval runs/quickstart/20250101-120000", "test the run's best checkpoint again"),
        ("zoo eval runs/quickstart/20250101-120000 data.root=other_folder", "on other data (any recipe key)"),
        ("zoo eval runs/quickstart/20250101-120000 --json", "the evaluation as JSON"),
    ],
    "predict": [
        ("zoo predict runs/quickstart/20250101-120000 digit.png photo.jpg", "the top classes of each image"),
        ("zoo predict runs/quickstart/20250101-120000 digit.png --top-k 1 --json", "the best class, as JSON"),
    ],
    "runs": [
        ("zoo runs", "every run under runs/, newest first"),
        ("zoo runs --state failed,killed", "the runs that did not finish"),
        ("zoo runs sweeps/quickstart/20250101-120000 --sort valid_loss --limit 5", "a sweep's five best trials"),
        ("zoo runs --name 'cifar*' --json", "as JSON objects"),
    ],
    "compare": [
        ("zoo compare runs/quickstart/20250101-120000 runs/quickstart/20250102-090000", "two runs side by side"),
        ("zoo compare sweeps/quickstart/20250101-120000 --plot lr.png", "a sweep's trials, curves in lr.png"),
        ("zoo compare RUN_A RUN_B --json --no-plot", "as one JSON object, no picture"),
    ],
    "schema": [
        ("zoo schema --output recipe.schema.json", "then start a recipe with: # yaml-language-server: $schema=recipe.schema.json"),
        ("zoo schema", "print it (the installed plugins' components, keys, types and defaults)"),
    ],
    "plugins": [
        ("zoo plugins", "each plugin: distribution, version, what it adds, or why it failed"),
        ("zoo plugins --json", "as JSON objects"),
    ],
}


def examples(rows: list) -> str:
    """The ``examples:`` block of a ``--help``: each command line with what it does beside it."""
    width = max(len(command) for command, _ in rows)
    lines = [f"  {command.ljust(width)}  # {what}" for command, what in rows]
    return "examples:\n" + "\n".join(lines) + "\n\nAdd --debug anywhere on the line to see an error's traceback."


def dispatch(args: argparse.Namespace) -> int:
    """Run the command ``args`` (parsed by ``build_parser``) names; return its exit status."""
    if args.command == "list":
        from zoo.commands.listing import list_command

        return list_command(args.kind, args.pattern, as_json=args.json, refresh=args.refresh,
                            pretrained=args.pretrained, where=args.where, sort=args.sort, columns=args.columns,
                            compute_cards=args.compute_cards)
    if args.command == "info":
        from zoo.commands.info import info_command

        return info_command(args.kind, args.name, args.overrides, as_json=args.json)
    if args.command == "plugins":
        from zoo.commands.listing import plugins_command

        return plugins_command(as_json=args.json)
    if args.command == "run":
        from zoo.commands.run import run_command

        return run_command(args.recipe, args.overrides, output=args.output, resume=args.resume,
                           dry_run=args.dry_run)
    if args.command == "sweep":
        from zoo.commands.sweep import sweep_command

        return sweep_command(args.recipe, args.overrides, trials=args.trials, sampler=args.sampler, seeds=args.seeds,
                             workers=args.workers, storage=args.storage, join=args.join, prune=args.prune,
                             resume=args.resume, objective=args.objective, output=args.output, threads=args.threads,
                             worker_index=args.worker_index)
    if args.command == "eval":
        from zoo.commands.evaluate import eval_command

        return eval_command(args.run_dir, args.overrides, as_json=args.json)
    if args.command == "predict":
        from zoo.commands.evaluate import predict_command

        return predict_command(args.run_dir, args.images, top_k=args.top_k, batch_size=args.batch_size,
                               output="json" if args.json else "csv" if args.csv else "text", on_error=args.on_error)
    if args.command == "export":
        from zoo.commands.export import export_command

        return export_command(args.run_dir, args.format, output=args.output, force=args.force)
    if args.command == "cache":
        from zoo.commands.cache import cache_command

        return cache_command(args.action, args.entries, as_json=args.json)
    if args.command == "schema":
        from zoo.commands.schema import schema_command

        return schema_command(output=args.output)
    if args.command == "runs":
        from zoo.commands.runs import runs_command

        return runs_command(args.dir, as_json=args.json, sort=args.sort, reverse=args.reverse, states=args.state,
                            name=args.name, limit=args.limit)
    if args.command == "compare":
        from zoo.commands.compare import compare_command

        return compare_command(args.targets, as_json=args.json, plot=args.plot, no_plot=args.no_plot, force=args.force)
    raise UserError("a command is required: list, info, plugins, run, sweep, eval, predict, export, cache, "
                    "schema, runs, compare (see 'zoo --help')")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; return (and, as a console script, exit with) its status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra:
            # `zoo run r.yaml --output DIR task.epochs=2`: overrides (or predict's images) may follow the options
            trailing = "images" if args.command == "predict" else "overrides"
            if getattr(args, trailing, None) is None or any(
                    e.startswith("-") or (trailing == "overrides" and "=" not in e) for e in extra):
                parser.error(f"unrecognized arguments: {' '.join(extra)}")
            setattr(args, trailing, list(getattr(args, trailing)) + extra)
        with one_line_warnings():
            return dispatch(args)
    except UserError as exc:
        if debug:
            traceback.print_exc()
        details = getattr(exc, "details", ())  # several mistakes at once: a header, then one line each
        print(f"zoo: error: {one_line(exc.message if details else str(exc))}", file=sys.stderr)
        for line in details:
            print(f"  {one_line(line)}", file=sys.stderr)
        return UserError.exit_code
    except RunFailure as exc:
        if debug:
            traceback.print_exc()
        print(f"zoo: error: {one_line(str(exc))}", file=sys.stderr)
        return RunFailure.exit_code
    except KeyboardInterrupt as exc:  # Ctrl-C: a run says where it stopped and how to resume
        if debug:
            traceback.print_exc()
        from zoo.distributed import is_main_process

        if is_main_process():  # under torchrun every process gets the signal: say it once
            print(f"zoo: {getattr(exc, 'message', 'interrupted')}", file=sys.stderr)
        return getattr(exc, "exit_code", Interrupted.exit_code)  # Ctrl-C 130, SIGTERM 143
    except BrokenPipeError:  # `zoo list models | head`
        sys.stderr.close()
        return 0
    except Exception as exc:  # a bug or an unforeseen failure: still one line (--debug shows where)
        if debug:
            traceback.print_exc()
        text = one_line(str(exc))[:500]
        print(f"zoo: error: unexpected {type(exc).__name__}{': ' + text if text else ''} "
              f"(run with --debug for the traceback)", file=sys.stderr)
        return RunFailure.exit_code


def one_line(text: str) -> str:
    """``text`` with its line breaks turned into spaces and other unprintable characters escaped
    (``\\x1b``): an error is always one line on stderr, and sends the terminal no escape sequence."""
    return printable(" ".join(text.split()) if "\n" in text or "\r" in text else text)


if __name__ == "__main__":
    sys.exit(main())
