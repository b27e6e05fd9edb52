"""The report as one self-contained HTML page: every picture a data URI, TensorFlow.js and the page's own
script inline, nothing fetched (a Content-Security-Policy forbids it). Every string from the run (folder
names, settings, labels, class names) is escaped: html.escape in HTML, `script_json` in script data."""

from __future__ import annotations

import json
from html import escape
from importlib import resources

import numpy as np

from vaestudio import __version__
from vaestudio.report import charts
from vaestudio.report.content import ReportContent
from vaestudio.report.decoder import decoder_spec
from vaestudio.report.tfjs import LICENSE, PACKAGE, VERSION

PLANE_RANGE = 3.0  # the plane spans [-3, 3] on both axes (three prior standard deviations)
PLANE_DOTS = 1000  # test images' posterior means drawn on the plane at most
CLASS_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"]
# Nothing from the network: scripts and styles only inline, pictures only data URIs. ('unsafe-eval': the
# TensorFlow.js bundle finds its global object with Function(); without it, `tf` is left incomplete.)
POLICY = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
          "img-src data: blob:")


def script_json(value) -> str:
    """JSON safe inside a <script> element: <, > and & as \\u escapes (no '</script>' can end it early)."""
    text = json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(content: ReportContent, tfjs_script: str) -> str:
    """The whole page as text."""
    name = escape(content.name)
    chosen = content.chosen
    data = {"snapshots": [{"frame": s.frame, "step": s.step, "label": s.label, "grid": s.grid_png}
                          for s in content.snapshots],
            "chosen": content.snapshots.index(chosen),
            "decoder": decoder_spec(content.weights),
            "plane": _plane_data(content)}
    body = [f"<header><h1>vaestudio report: <span id=\"run-name\">{name}</span></h1>",
            f"<p class=\"muted\">{escape(str(content.folder))} · {escape(content.architecture)} · made by vaestudio "
            f"{escape(__version__)}</p></header>",
            _settings_section(content), _curves_section(content),
            '<div class="side-by-side">', _snapshots_section(content), _plane_section(content), "</div>",
            _figures_section(content), _animation_section(content), _footer(content)]
    script = resources.files("vaestudio.report").joinpath("report.js").read_text(encoding="utf-8")
    style = resources.files("vaestudio.report").joinpath("report.css").read_text(encoding="utf-8")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{name} — vaestudio report</title>", f"<style>{style}</style></head><body>",
        *body,
        f'<script type="application/json" id="report-data">{script_json(data)}</script>',
        f"<script>{tfjs_script}</script>", f"<script>{script}</script>", "</body></html>", ""])


def _settings_section(content: ReportContent) -> str:
    rows = "".join(f"<dt>{escape(str(key))}</dt><dd>{escape(_text(value))}</dd>"
                   for key, value in sorted(content.settings.items()))
    if len(content.lineage) > 1:
        last = len(content.lineage) - 1
        items = "".join(f"<li>{escape(folder)} <span class=\"muted\">("
                        + ("the first run" if index == last else f"branched from the next at step {step}")
                        + ")</span></li>" for index, (folder, step) in enumerate(content.lineage))
        lineage = f"<p>A branched run; its lineage, this run first:</p><ol class=\"lineage\">{items}</ol>"
    else:
        lineage = "<p>Lineage: a root run (not branched from another).</p>"
    return (f'<section id="settings"><h2>Settings and lineage</h2>{lineage}'
            f'<dl class="settings">{rows}</dl></section>')


def _curves_section(content: ReportContent) -> str:
    steps = [r for r in content.metrics if r.get("kind") == "step"]
    epochs = [r for r in content.metrics if r.get("kind") == "epoch"]
    marks = [s.step for s in content.snapshots]

    def column(rows, key):
        kept = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
        return [k[0] for k in kept], [k[1] for k in kept]

    charts_html = []
    for title, train_key, test_key in (("ELBO (nats, higher is better)", "elbo", "test_elbo"),
                                       ("Reconstruction term E[log p(x|z)] (nats)", "log_likelihood",
                                        "test_log_likelihood"),
                                       ("KL term (nats)", "kl", "test_kl")):
        series = [("train", charts.TRAIN_COLOUR, *column(steps, train_key)),
                  ("test (epoch ends)", charts.TEST_COLOUR, *column(epochs, test_key))]
        charts_html.append(charts.curve_chart(title, series, marks, content.chosen.step))
    return ('<section id="curves"><h2>Training curves</h2><p class="muted">Vertical lines: the snapshots in '
            'the slider; green: the report\'s snapshot.</p><div class="charts">' + "".join(charts_html) +
            "</div></section>")


def _snapshots_section(content: ReportContent) -> str:
    last = len(content.snapshots) - 1
    index = content.snapshots.index(content.chosen)
    return ('<section id="snapshots"><h2>Snapshots</h2><p>The decoded latent grid at each snapshot.</p>'
            f'<input type="range" id="snapshot-slider" min="0" max="{last}" value="{index}" step="1" '
            'aria-label="snapshot">'
            '<p id="snapshot-label"></p><img id="snapshot-grid" class="pixelated" alt="the decoded grid"></section>')


def _plane_section(content: ReportContent) -> str:
    chosen = content.chosen
    dim = content.weights.architecture.latent_dim
    first, second = content.plane_axes
    if dim == 1:
        axes = "z1 across (the latent space has one dimension)"
    elif dim == 2:
        axes = "z1 across, z2 up"
    else:
        axes = (f"z{first + 1} across, z{second + 1} up (the two dimensions of largest KL), the other "
                f"{dim - 2} at 0")
    return ('<section id="plane"><h2>Latent plane</h2>'
            f'<p id="plane-snapshot">Decoder of snapshot <b>{escape(chosen.label)}</b> (step {chosen.step}, frame '
            f'{chosen.frame}); {escape(axes)}, each from −{PLANE_RANGE:g} to {PLANE_RANGE:g}. Dots: test '
            'images\' posterior means, coloured by class.</p>'
            '<div class="plane-row"><canvas id="latent-plane" width="280" height="280"></canvas>'
            f'<canvas id="decoded" class="pixelated" width="{content.weights.architecture.image_size}" '
            f'height="{content.weights.architecture.image_size}"></canvas></div>'
            f'{_class_legend(content)}<p id="plane-point"></p><p id="plane-status" class="muted">Starting TensorFlow.js…</p></section>')


def _class_legend(content: ReportContent) -> str:
    names = content.figures.class_names
    if content.figures.means is None or not names:
        return ""
    items = "".join(f'<span class="class-name"><span style="color:{CLASS_COLOURS[i % len(CLASS_COLOURS)]}">■</span> '
                    f'{escape(name)}</span> ' for i, name in enumerate(names))
    return f'<p id="class-legend">{items}</p>'


def _figures_section(content: ReportContent) -> str:
    figures = content.figures
    chosen = content.chosen
    parts = [f'<section id="figures"><h2>At snapshot {escape(chosen.label)} (step {chosen.step})</h2>']
    if figures.reconstructions_png:
        parts.append('<h3>Reconstructions</h3><p class="muted">One test image of each class (top) and its '
                     'reconstruction from the posterior mean (bottom).</p>'
                     f'<img id="reconstructions" class="pixelated" src="{figures.reconstructions_png}" '
                     'alt="reconstructions">')
    if figures.kl_per_dimension:
        parts.append("<h3>KL per dimension</h3>" + charts.kl_bars(figures.kl_per_dimension))
    if figures.elbo is not None:
        rows = [("Test ELBO", f"{figures.elbo:.2f} nats ± {figures.elbo_standard_error:.2f} = reconstruction "
                              f"{figures.log_likelihood_term:.2f} − KL {figures.kl:.2f}")]
        if figures.iwae:
            iwae = figures.iwae
            rows.append(("log p(x) (IWAE)", f"{iwae['log_px']:.2f} nats ± {iwae['standard_error']:.2f} (k = "
                                            f"{iwae['k']} importance samples, {figures.images} test images, "
                                            f"{iwae['seconds']:.0f} s)"))
        dims = len(figures.kl_per_dimension)
        rows.append(("Active units", f"{figures.active_units} of {dims} (Cov_x E[z_d] > 0.01, Burda et al. 2016)"))
        table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
        parts.append(f'<h3>inspect\'s figures</h3><p class="muted">Cheap settings: the first {figures.images} test '
                     f'images of {escape(figures.data)}; the diagnosis uses a classifier only when one is cached '
                     '(vaestudio inspect computes them all on the whole test set).</p>'
                     f'<table class="figures">{table}</table>')
    if figures.diagnosis:
        parts.append("<h3>Diagnosis</h3><pre class=\"diagnosis\">" + escape("\n".join(figures.diagnosis)) + "</pre>")
    for note in figures.notes:
        parts.append(f'<p class="note">{escape(note)}</p>')
    return "".join(parts) + "</section>"


def _animation_section(content: ReportContent) -> str:
    if content.animation_gif:
        return ('<section id="animation"><h2>Training animation</h2>'
                f'<img id="training-gif" class="pixelated" src="{content.animation_gif}" alt="training animation">'
                '</section>')
    return ('<section id="animation"><h2>Training animation</h2><p class="note">'
            + escape(next((n for n in content.notes if "training.gif" in n),
                          "The run has no training.gif (it is written when a run ends).")) + "</p></section>")


def _footer(content: ReportContent) -> str:
    notes = "".join(f"<li>{escape(n)}</li>" for n in content.notes if "training.gif" not in n)
    return ("<footer>" + (f"<ul>{notes}</ul>" if notes else "") +
            f"<p class=\"muted\">This page includes TensorFlow.js {VERSION} (tf.min.js of the npm package "
            f"{escape(PACKAGE)}), Copyright Google LLC, licensed under the {LICENSE} license "
            "(https://www.apache.org/licenses/LICENSE-2.0); its license header is kept in the inline script. "
            "It decodes the latent plane on the cpu backend. Everything else on this page was made by "
            "vaestudio.</p></footer>")


def _plane_data(content: ReportContent) -> dict:
    figures = content.figures
    first, second = content.plane_axes
    means, labels = [], []
    if figures.means is not None and figures.labels is not None:
        count = min(PLANE_DOTS, len(figures.means))
        chosen = figures.means[:count]
        columns = np.stack([chosen[:, first], chosen[:, second] if chosen.shape[1] > 1 else np.zeros(count)], 1)
        means = [[round(float(a), 3), round(float(b), 3)] for a, b in columns]
        labels = [int(v) for v in figures.labels[:count]]
    return {"range": PLANE_RANGE, "axes": [first, second], "means": means, "labels": labels,
            "colours": CLASS_COLOURS}


def _text(value) -> str:
    return "—" if value is None else str(value)
