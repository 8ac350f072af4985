//! `mend check --graph`: one self-contained HTML page with a picture of every
//! flow, for a counsellor to read a flow at a glance. Steps are boxes,
//! choices are arrows, endings and steps nobody reaches stand out, and under
//! each picture every step's words are written out in full. No scripts and
//! nothing fetched: the page is inline SVG and CSS, and every word from a
//! prompt file is escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::layout::{self, Layout, Size};
use super::model::{Flow, Situation, Step};
use super::view::{self, Edge, To};

/// The file written inside the folder given to `--graph`.
pub const PAGE: &str = "index.html";

/// Characters per line in a step's box, and how many lines of its words show
/// (the table under the picture has them all).
const WRAP: usize = 36;
const MAX_LINES: usize = 7;
const STEP_WIDTH: i32 = 280;
const LINE: i32 = 16;
const NOTE_LINE: i32 = 14;
const PAD: i32 = 10;
const HEADER: i32 = 22;
/// Longest arrow label drawn; the whole label is in its tooltip and the table.
const LABEL_CHARS: usize = 32;

/// Writes the page into `dir` (made if missing) and returns the file's path.
pub fn write(dir: &Path, flows: &[&Flow]) -> Result<PathBuf, (PathBuf, std::io::Error)> {
    std::fs::create_dir_all(dir).map_err(|e| (dir.to_owned(), e))?;
    let path = dir.join(PAGE);
    std::fs::write(&path, page(flows)).map_err(|e| (path.clone(), e))?;
    Ok(path)
}

/// The whole page: a table of contents, then each flow.
pub fn page(flows: &[&Flow]) -> String {
    let drawn: Vec<Drawing<'_>> = flows.iter().map(|f| Drawing::new(f)).collect();
    let mut out = String::new();
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>mend: the flows</title>\n<style>\n",
    );
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<h1>mend: the flows</h1>\n");
    out.push_str(
        "<p class=\"legend\">Each box is a step, with its id and the start of its words. \
         Arrows are the ways on: a choice's label, <em>then</em> where mend carries on by \
         itself, <em>answer</em> after a written answer, and <em>if hurt</em> (and so on) \
         where people in one situation go their own way. A rounded box \
         <span class=\"key link\">→ flow</span> is the start of another flow. \
         <span class=\"key end\">end</span> marks an ending, and \
         <span class=\"key unreached\">never reached</span> a step no path from the start \
         leads to. «name» is a quote of something the person wrote or chose.</p>\n",
    );
    out.push_str("<nav>\n<h2>Contents</h2>\n<ol>\n");
    for drawing in &drawn {
        let flow = drawing.flow;
        let endings = flow.steps.iter().filter(|s| view::is_end(s)).count();
        let _ = write!(
            out,
            "<li><a href=\"#flow-{id}\">{title}</a> <code>{id}</code>: {steps} step{s}, \
             {endings} ending{e}",
            id = esc(&flow.id),
            title = esc(&flow.title),
            steps = flow.steps.len(),
            s = plural(flow.steps.len()),
            e = plural(endings),
        );
        let unreached = drawing.unreached();
        if unreached > 0 {
            let _ = write!(
                out,
                ", <span class=\"warn\">{unreached} never reached</span>"
            );
        }
        if !drawing.unheard.is_empty() {
            let _ = write!(
                out,
                ", <span class=\"warn\">{n} step{s} with words never heard</span>",
                n = drawing.unheard.len(),
                s = plural(drawing.unheard.len()),
            );
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ol>\n</nav>\n");
    for drawing in &drawn {
        drawing.section(&mut out);
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// One box in a flow's picture.
enum Node<'a> {
    Step(&'a Step),
    /// The start of another flow, reached from one step.
    Link(&'a str),
}

struct Drawing<'a> {
    flow: &'a Flow,
    nodes: Vec<Node<'a>>,
    /// Each drawn arrow: its edge, and the boxes it joins.
    arrows: Vec<(Edge<'a>, usize, usize)>,
    layout: Layout,
    /// Words written for a situation that never reaches their step.
    unheard: BTreeMap<&'a str, Vec<Situation>>,
}

impl<'a> Drawing<'a> {
    fn new(flow: &'a Flow) -> Drawing<'a> {
        let mut nodes: Vec<Node<'a>> = flow.steps.iter().map(Node::Step).collect();
        let index: BTreeMap<&str, usize> = flow
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        let mut arrows = Vec::new();
        for (from, step) in flow.steps.iter().enumerate() {
            // One "→ flow" box per step and flow, so its arrows stay short.
            let mut links: BTreeMap<&str, usize> = BTreeMap::new();
            for edge in view::edges(step) {
                let to = match edge.to {
                    To::Step(id) => match index.get(id) {
                        Some(&to) => to,
                        // Validation rules this out; draw nothing rather than guess.
                        None => continue,
                    },
                    To::Flow(id) => *links.entry(id).or_insert_with(|| {
                        nodes.push(Node::Link(id));
                        nodes.len() - 1
                    }),
                };
                arrows.push((edge, from, to));
            }
        }
        let unheard = view::unheard(flow);
        let sizes: Vec<Size> = nodes.iter().map(|n| size(n, &unheard)).collect();
        let start = index.get(flow.start.as_str()).copied().unwrap_or(0);
        let pairs: Vec<(usize, usize)> = arrows.iter().map(|&(_, a, b)| (a, b)).collect();
        let layout = layout::layout(&sizes, start, &pairs);
        Drawing {
            flow,
            nodes,
            arrows,
            layout,
            unheard,
        }
    }

    fn reached(&self, node: usize) -> bool {
        self.layout.nodes[node].layer.is_some()
    }

    fn unreached(&self) -> usize {
        (0..self.flow.steps.len())
            .filter(|&i| !self.reached(i))
            .count()
    }

    fn section(&self, out: &mut String) {
        let flow = self.flow;
        let id = esc(&flow.id);
        let _ = write!(
            out,
            "<section id=\"flow-{id}\">\n<h2>{title} <code>{id}</code></h2>\n\
             <p class=\"summary\">{summary}</p>\n<p class=\"meta\">Starts at <code>{start}</code>.",
            title = esc(&flow.title),
            summary = esc(&flow.summary),
            start = esc(&flow.start),
        );
        let unreached: Vec<String> = flow
            .steps
            .iter()
            .enumerate()
            .filter(|&(i, _)| !self.reached(i))
            .map(|(_, s)| format!("<code>{}</code>", esc(&s.id)))
            .collect();
        if !unreached.is_empty() {
            let _ = write!(
                out,
                " <span class=\"warn\">Never reached from the start: {}.</span>",
                unreached.join(", ")
            );
        }
        for step in &flow.steps {
            if let Some(note) = unheard_note(step, &self.unheard) {
                let _ = write!(
                    out,
                    " <span class=\"warn\">Step <code>{}</code>: {}; no path brings someone \
                     in that situation there.</span>",
                    esc(&step.id),
                    esc(&note)
                );
            }
        }
        out.push_str("</p>\n<div class=\"picture\">\n");
        self.svg(out);
        out.push_str("</div>\n");
        self.table(out);
        out.push_str("</section>\n");
    }

    fn svg(&self, out: &mut String) {
        let flow_id = esc(&self.flow.id);
        let marker = format!("arrow-{flow_id}");
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"The steps of {flow_id}\">\n\
             <defs><marker id=\"{marker}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
             markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\">\
             <path d=\"M 0 0 L 10 5 L 0 10 z\"/></marker></defs>\n",
            w = self.layout.width,
            h = self.layout.height,
        );
        // Lines first, then boxes over them, then labels over both.
        for ((edge, _, _), route) in self.arrows.iter().zip(&self.layout.routes) {
            let _ = writeln!(
                out,
                "<path class=\"arrow\" d=\"{d}\" marker-end=\"url(#{marker})\"><title>{t}</title></path>",
                d = route.path,
                t = esc(&edge_title(edge)),
            );
        }
        for (i, node) in self.nodes.iter().enumerate() {
            self.node(out, i, node);
        }
        for ((edge, _, _), route) in self.arrows.iter().zip(&self.layout.routes) {
            let _ = writeln!(
                out,
                "<text class=\"label\" x=\"{x}\" y=\"{y}\" text-anchor=\"end\">{l}<title>{t}</title></text>",
                x = route.label.0,
                y = route.label.1,
                l = esc(&shorten(&edge.label(), LABEL_CHARS)),
                t = esc(&edge_title(edge)),
            );
        }
        out.push_str("</svg>\n");
    }

    fn node(&self, out: &mut String, i: usize, node: &Node<'_>) {
        let r = self.layout.nodes[i].rect;
        let flow_id = esc(&self.flow.id);
        match node {
            Node::Link(target) => {
                let target = esc(target);
                let _ = writeln!(
                    out,
                    "<a href=\"#flow-{target}\"><g class=\"link\">\
                     <rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"14\"/>\
                     <text x=\"{tx}\" y=\"{ty}\">→ {target}</text></g></a>",
                    x = r.x,
                    y = r.y,
                    w = r.w,
                    h = r.h,
                    tx = r.x + PAD,
                    ty = r.y + r.h / 2 + 5,
                );
            }
            Node::Step(step) => {
                let mut class = String::from("step");
                let mut badges = Vec::new();
                if step.id == self.flow.start {
                    class.push_str(" start");
                    badges.push(("start", "start"));
                }
                if view::is_end(step) {
                    class.push_str(" end");
                    badges.push(("end", "end"));
                }
                if !self.reached(i) {
                    class.push_str(" unreached");
                    badges.push(("unreached", "never reached"));
                }
                let id = esc(&step.id);
                let _ = writeln!(
                    out,
                    "<g class=\"{class}\" id=\"step-{flow_id}-{id}\"><title>{words}</title>\
                     <rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"4\"/>\
                     <text class=\"id\" x=\"{tx}\" y=\"{ty}\">{id}</text>",
                    words = esc(&view::review_wordings(&step.say)),
                    x = r.x,
                    y = r.y,
                    w = r.w,
                    h = r.h,
                    tx = r.x + PAD,
                    ty = r.y + PAD + 12,
                );
                // Badges from the right-hand corner leftwards.
                let mut right = r.right() - 6;
                for (kind, words) in badges.iter().rev() {
                    let width = words.chars().count() as i32 * 7 + 10;
                    right -= width;
                    let _ = write!(
                        out,
                        "<g class=\"badge {kind}\"><rect x=\"{x}\" y=\"{y}\" width=\"{width}\" \
                         height=\"16\" rx=\"8\"/><text x=\"{tx}\" y=\"{ty}\">{words}</text></g>",
                        x = right,
                        y = r.y + 6,
                        tx = right + 5,
                        ty = r.y + 18,
                    );
                    right -= 4;
                }
                let mut y = r.y + PAD + HEADER;
                for line in words_lines(step) {
                    y += LINE;
                    let _ = write!(
                        out,
                        "<text x=\"{}\" y=\"{}\">{}</text>",
                        r.x + PAD,
                        y - 4,
                        esc(&line)
                    );
                }
                for (line, warn) in note_lines(step, &self.unheard) {
                    y += NOTE_LINE;
                    let _ = write!(
                        out,
                        "<text class=\"note{}\" x=\"{}\" y=\"{}\">{}</text>",
                        if warn { " warn" } else { "" },
                        r.x + PAD,
                        y - 3,
                        esc(&line)
                    );
                }
                out.push_str("</g>\n");
            }
        }
    }

    /// Every step in full: its words for each situation and its ways on.
    fn table(&self, out: &mut String) {
        out.push_str(
            "<details open>\n<summary>Every step, in full</summary>\n<table>\n\
             <tr><th>step</th><th>says</th><th>ways on</th></tr>\n",
        );
        for step in &self.flow.steps {
            let _ = write!(
                out,
                "<tr id=\"words-{}-{}\"><td><code>{}</code>",
                esc(&self.flow.id),
                esc(&step.id),
                esc(&step.id)
            );
            for note in view::annotations(step) {
                let _ = write!(out, "<br><span class=\"note\">{}</span>", esc(&note));
            }
            out.push_str("</td><td>");
            let _ = write!(out, "<p>{}</p>", esc(&view::review_wordings(&step.say)));
            for (situation, words) in &step.say_for {
                let _ = write!(
                    out,
                    "<p><span class=\"who\">{situation}:</span> {}</p>",
                    esc(&view::review_wordings(words))
                );
            }
            out.push_str("</td><td><ul>");
            let edges = view::edges(step);
            if view::is_end(step) {
                out.push_str(
                    "<li><span class=\"key end\">end</span> (then a button back to the menu)</li>",
                );
            }
            for edge in &edges {
                let to = match edge.to {
                    To::Step(id) => format!("<code>{}</code>", esc(id)),
                    To::Flow(id) => format!(
                        "<a href=\"#flow-{id}\">flow <code>{id}</code></a>",
                        id = esc(id)
                    ),
                };
                let _ = write!(out, "<li>{} → {to}", esc(&edge.label()));
                let effects = edge.effects();
                if !effects.is_empty() {
                    let _ = write!(
                        out,
                        " <span class=\"note\">({})</span>",
                        esc(&effects.join("; "))
                    );
                }
                out.push_str("</li>");
            }
            out.push_str("</ul></td></tr>\n");
        }
        out.push_str("</table>\n</details>\n");
    }
}

/// A box's size: a step's box fits its wrapped words and notes.
fn size(node: &Node<'_>, unheard: &BTreeMap<&str, Vec<Situation>>) -> Size {
    match node {
        Node::Link(id) => Size {
            w: id.chars().count() as i32 * 8 + 2 * PAD + 16,
            h: 30,
        },
        Node::Step(step) => Size {
            w: STEP_WIDTH,
            h: 2 * PAD
                + HEADER
                + words_lines(step).len() as i32 * LINE
                + note_lines(step, unheard).len() as i32 * NOTE_LINE,
        },
    }
}

fn words_lines(step: &Step) -> Vec<String> {
    let mut lines = wrap(&view::review_wordings(&step.say), WRAP);
    if lines.len() > MAX_LINES {
        lines.truncate(MAX_LINES);
        if let Some(last) = lines.last_mut() {
            last.push_str(" …");
        }
    }
    lines
}

/// A step's notes, wrapped, each line saying whether it warns.
fn note_lines(step: &Step, unheard: &BTreeMap<&str, Vec<Situation>>) -> Vec<(String, bool)> {
    let plain = view::annotations(step).into_iter().map(|n| (n, false));
    let warn = unheard_note(step, unheard).map(|n| (n, true));
    plain
        .chain(warn)
        .flat_map(|(note, warn)| {
            wrap(&note, WRAP + 4)
                .into_iter()
                .map(move |line| (line, warn))
        })
        .collect()
}

fn unheard_note(step: &Step, unheard: &BTreeMap<&str, Vec<Situation>>) -> Option<String> {
    let situations = unheard.get(step.id.as_str())?;
    let names: Vec<&str> = situations.iter().map(|s| s.as_str()).collect();
    Some(format!("never heard: its words for {}", names.join(", ")))
}

/// An arrow's tooltip: its whole label and what else it does.
fn edge_title(edge: &Edge<'_>) -> String {
    let mut title = edge.label();
    let effects = edge.effects();
    if !effects.is_empty() {
        title.push_str(" (");
        title.push_str(&effects.join("; "));
        title.push(')');
    }
    title
}

/// Greedy word wrap at `width` characters; a word longer than a line is cut.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let mut word: Vec<char> = word.chars().collect();
            while word.len() > width {
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                lines.push(word.drain(..width).collect());
            }
            let word: String = word.into_iter().collect();
            let needed =
                line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
            if !line.is_empty() && needed > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&word);
        }
        if !line.is_empty() {
            lines.push(line);
        }
    }
    lines
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Escapes text for HTML and SVG, in element content and in quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: none; }
h1, h2 { font-weight: 600; }
section { border-top: 1px solid #ccc; margin-top: 2.5rem; padding-top: 1rem; }
.summary { font-size: 1.05rem; }
.meta, .legend { color: #444; max-width: 60rem; }
.warn { color: #a11; font-weight: 600; }
.picture { overflow-x: auto; border: 1px solid #e4e4e4; background: #fcfcfc; }
svg text { font-family: system-ui, sans-serif; font-size: 13px; fill: #222; }
svg .step rect { fill: #fff; stroke: #667; stroke-width: 1.2; }
svg .step.start > rect { stroke: #35a; stroke-width: 2; }
svg .step.end > rect { stroke: #282; stroke-width: 3; fill: #f3fbf3; }
svg .step.unreached > rect { stroke: #c22; stroke-width: 2.5; stroke-dasharray: 6 4; fill: #fff4f4; }
svg .step text.id { font-weight: 700; }
svg .step text.note { font-size: 11px; font-style: italic; fill: #555; }
svg .step text.note.warn { fill: #a11; font-weight: 600; }
svg .badge text { font-size: 11px; font-weight: 600; fill: #fff; }
svg .badge.start rect { fill: #35a; }
svg .badge.end rect { fill: #282; }
svg .badge.unreached rect { fill: #c22; }
svg .link rect { fill: #eef2fb; stroke: #35a; stroke-width: 1.2; }
svg .link text { fill: #235; }
svg path.arrow { fill: none; stroke: #778; stroke-width: 1.3; }
svg marker path { fill: #778; }
svg text.label { font-size: 11px; fill: #334; paint-order: stroke; stroke: #fcfcfc; stroke-width: 4px; }
table { border-collapse: collapse; margin-top: 0.5rem; }
td, th { border: 1px solid #ddd; padding: 0.4rem 0.6rem; vertical-align: top; text-align: left; }
td p { margin: 0 0 0.4rem; max-width: 40rem; white-space: pre-line; }
td ul { margin: 0; padding-left: 1.1rem; }
.note { color: #555; font-style: italic; font-size: 0.9em; }
.who { font-weight: 600; }
.key { display: inline-block; padding: 0 0.45rem; border-radius: 0.6rem; font-size: 0.85em; }
.key.link { background: #eef2fb; border: 1px solid #35a; }
.key.end { background: #282; color: #fff; }
.key.unreached { background: #c22; color: #fff; }
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_lines_short_and_words_whole() {
        let lines = wrap("one two three four five six seven", 9);
        assert_eq!(lines, ["one two", "three", "four five", "six seven"]);
        assert_eq!(wrap("abcdefghij k", 4), ["abcd", "efgh", "ij k"]);
        assert_eq!(wrap("a\n\nb", 10), ["a", "b"]);
        assert!(wrap("", 5).is_empty());
    }

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc("<script>\"it's\" & more</script>"),
            "&lt;script&gt;&quot;it&#39;s&quot; &amp; more&lt;/script&gt;"
        );
    }
}
