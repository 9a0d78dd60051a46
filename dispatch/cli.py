"""`hotline dispatch|followup`: routing models and automated follow-up from the command line."""

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from dispatch.wiring import DispatchServices


@click.group("dispatch")
def dispatch_group() -> None:
    """Ticket routing: train and evaluate the classifier."""


@dispatch_group.command("train")
@click.pass_context
def dispatch_train(ctx: click.Context) -> None:
    """Retrain the routing models from the hotline's decisions (as the scheduled job does).

    Prints one JSON object; the new version goes live only if it scores at least as well on
    the held-back slice as the live one.
    """
    from dispatch.routing.learning import retrain
    from infra.assembly import services

    with services(ctx.obj) as built:
        c: DispatchServices = built
        result = retrain(c.uow(), trigger="cli")
    click.echo(
        json.dumps(
            {
                "version": result.version,
                "status": result.status,
                "note": result.note,
                "n_examples": result.n_examples,
                "n_holdout": result.n_holdout,
                "train_seconds": result.train_seconds,
                "scores": result.scores,
            },
            ensure_ascii=False,
        )
    )


@dispatch_group.command("evaluate")
@click.option("--train", "train_path", required=True, type=click.Path(dir_okay=False))
@click.option("--test", "test_path", required=True, type=click.Path(dir_okay=False))
@click.option("--fields", type=click.Choice(["title", "text", "title+text"]), default="title+text")
def dispatch_evaluate(train_path: str, test_path: str, fields: str) -> None:
    """Train a fresh classifier on a labelled TSV (id, label, title, text) and score it on another.

    The last line printed is one JSON object: accuracy, macro_f1, top3_accuracy,
    per_label_f1, train_seconds, predict_p50_ms, predict_p99_ms.
    """
    from dispatch.routing.classifier import DataError
    from dispatch.routing.classifier import evaluate
    from dispatch.routing.classifier import read_labelled_tsv

    try:
        train_docs, train_labels = read_labelled_tsv(train_path)
        test_docs, test_labels = read_labelled_tsv(test_path)
    except DataError as exc:
        raise click.ClickException(str(exc)) from exc
    if len(set(train_labels)) < 2:
        raise click.ClickException(f"{train_path}: need at least two labels to train")
    click.echo(f"training on {len(train_docs)} rows, testing on {len(test_docs)} ...", err=True)
    result = evaluate(train_docs, train_labels, test_docs, test_labels, fields=fields)  # type: ignore[arg-type]
    click.echo(json.dumps(result, ensure_ascii=False))


@click.group("followup")
def followup_group() -> None:
    """Automated follow-up (自动回访): run the sweep, simulate the SMS gateway."""


@followup_group.command("sweep")
@click.pass_context
def followup_sweep(ctx: click.Context) -> None:
    """Move automated follow-ups along once, as `hotline cron` does; print the result (JSON).

    Survey calls go on the Redis list of the survey processes, SMS to the SMS channel.
    """
    from dispatch.jobs import sweep_followup

    config_path = ctx.find_root().params.get("config_path")
    if config_path:  # the job reads its settings as a worker does: point it at this file
        os.environ["HOTLINE_CONFIG"] = str(Path(config_path).resolve())
    click.echo(json.dumps(sweep_followup(), ensure_ascii=False))


@followup_group.command("sms-reply")
@click.argument("phone")
@click.argument("text")
@click.pass_context
def followup_sms_reply(ctx: click.Context, phone: str, text: str) -> None:
    """Take a citizen's SMS reply to the survey, as the gateway's callback would (JSON)."""
    from dispatch.followup.survey import record_sms_reply
    from infra.assembly import services
    from infra.jobs import emitter

    with services(ctx.obj) as built:
        c: DispatchServices = built
        c.dispatch.publish = emitter(c.settings)
        result = record_sms_reply(c.uow(), c.dispatch, c.settings.followup, phone, text)
    click.echo(json.dumps(result, ensure_ascii=False))


COMMANDS = (dispatch_group, followup_group)
