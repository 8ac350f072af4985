//! The learned layer beside the rules: a small linear model over hashed
//! word and letter features, trained on the labelled sets in
//! `tests/safety/` and compiled into the binary as `learned.bin`.
//!
//! The rules read structure and say why they matched; this layer reads the
//! words a message is made of, so it can notice danger said in words no rule
//! lists. It only ever adds an `ask`: when the rules find nothing and the
//! model puts enough weight on a category, mend asks the person directly
//! rather than deciding for them.
//!
//! Features, all from the screen's normalised text: each stemmed word, each
//! pair of neighbouring words, each pair one word apart, and the three- to
//! five-letter pieces of every word. Each is hashed (FNV-1a) into one of
//! [`BUCKETS`] slots and weighs the same, so a message's features have unit
//! length. The model is a softmax over six classes (clear, then
//! [`Category::ALL`]), trained by AdaGrad with a fixed order, so the same sets
//! always give the same bytes. Weights are kept as one signed byte each with
//! a scale per output: 7 × 32,768 bytes.
//!
//! A seventh output, trained apart as a yes-or-no, reads whether the danger
//! is happening now (means in hand, an overdose taken, at the place): the
//! screen uses it to answer at once rather than ask.

use std::ops::Range;
use std::path::Path;
use std::{fmt, fs, io};

use rust_stemmers::Stemmer;

use super::Category;
use super::normalise::normalise;
use super::rules;

/// Feature slots: a power of two.
pub const BUCKETS: usize = 1 << 15;
/// Clear, then the five categories in [`Category::ALL`] order.
pub const CLASSES: usize = 6;
const MAGIC: &[u8; 8] = b"mendlrn1";
/// The classes, then one more output: whether a crisis is happening now.
pub const OUTPUTS: usize = CLASSES + 1;
const URGENT: usize = CLASSES;
const HEADER: usize = 8 + 8 + 4 + OUTPUTS * 8;

/// A sentence read alone counts for this much less than the whole
/// message: a short sentence out of its context is easier to misread.
pub const SENTENCE_DOUBT: f32 = 0.2;

/// The model compiled into the binary.
pub const EMBEDDED: &[u8] = include_bytes!("learned.bin");

/// One labelled message of a set: `None` is clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub category: Option<Category>,
    /// Life in danger right now.
    pub urgent: bool,
    pub message: String,
    /// 1-based line in its file.
    pub line: usize,
}

/// A line of a set that is not `label<TAB>category<TAB>message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetError {
    pub line: usize,
    pub problem: String,
}

impl fmt::Display for SetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

/// Reads a set: `label<TAB>category<TAB>message` per line, label `urgent`,
/// `crisis` or `ok`, category one of the five or `-` for ok; `#` starts a
/// comment line.
pub fn parse_set(text: &str) -> Result<Vec<Example>, SetError> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |problem: String| SetError {
            line: line_no,
            problem,
        };
        let mut parts = line.splitn(3, '\t');
        let (Some(label), Some(cat), Some(message)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(fail("expected label<TAB>category<TAB>message".into()));
        };
        let (crisis, urgent) = match label {
            "urgent" => (true, true),
            "crisis" => (true, false),
            "ok" => (false, false),
            other => {
                return Err(fail(format!(
                    "label {other:?}, expected urgent, crisis or ok"
                )));
            }
        };
        let category = match cat {
            "-" => None,
            name => Some(Category::parse(name).ok_or_else(|| {
                fail(format!(
                    "category {name:?}, expected one of suicide, self_harm, harm_others, abuse, sexual_violence or -"
                ))
            })?),
        };
        if crisis != category.is_some() {
            return Err(fail(
                "crisis and urgent rows need a category, ok rows a dash".into(),
            ));
        }
        rows.push(Example {
            category,
            urgent,
            message: message.to_owned(),
            line: line_no,
        });
    }
    Ok(rows)
}

/// Every `*.tsv` set in `dir`, as (file name, text), in name order: the
/// order the model is trained in.
pub fn read_sets(dir: &Path) -> io::Result<Vec<(String, String)>> {
    let mut names: Vec<String> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tsv"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let text = fs::read_to_string(dir.join(&n))?;
            Ok((n, text))
        })
        .collect()
}

fn class_of(category: Option<Category>) -> usize {
    match category {
        None => 0,
        Some(c) => 1 + Category::ALL.iter().position(|&k| k == c).unwrap_or(0),
    }
}

/// The stemmer the features use.
pub fn stemmer() -> Stemmer {
    rules::stemmer()
}

/// FNV-1a over a kind byte and some words, folded into a slot.
fn slot(kind: u8, parts: &[&str]) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |b: u8| {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    };
    feed(kind);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            feed(b' ');
        }
        part.bytes().for_each(&mut feed);
    }
    (hash as usize & (BUCKETS - 1)) as u32
}

/// The distinct feature slots of `text`, sorted.
pub fn features(text: &str, stemmer: &Stemmer, out: &mut Vec<u32>) {
    out.clear();
    let normalised = normalise(text);
    let mut stems: Vec<String> = Vec::new();
    rules::words(&normalised, |w| stems.push(stemmer.stem(w).into_owned()));
    let mut padded = String::new();
    for (i, stem) in stems.iter().enumerate() {
        out.push(slot(b'w', &[stem]));
        if let Some(next) = stems.get(i + 1) {
            out.push(slot(b'b', &[stem, next]));
        }
        if let Some(after) = stems.get(i + 2) {
            out.push(slot(b's', &[stem, after]));
        }
        padded.clear();
        padded.push('<');
        padded.push_str(stem);
        padded.push('>');
        let letters: Vec<(usize, char)> = padded.char_indices().collect();
        for n in 3..=5 {
            for window in letters.windows(n) {
                let start = window[0].0;
                let end = window[n - 1].0 + window[n - 1].1.len_utf8();
                out.push(slot(b'c', &[&padded[start..end]]));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
}

/// A trained model, ready to read messages.
#[derive(Clone, PartialEq)]
pub struct Model {
    /// `BUCKETS × OUTPUTS`, slot-major.
    weights: Vec<i8>,
    scale: [f32; OUTPUTS],
    bias: [f32; OUTPUTS],
    /// FNV-1a of the sets it was trained on, to tell when it is stale.
    pub trained_on: u64,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("trained_on", &format_args!("{:016x}", self.trained_on))
            .finish_non_exhaustive()
    }
}

/// `learned.bin` is not a model this build can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelError(pub String);

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ModelError {}

/// What the model makes of some text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// Probabilities of clear and of each category, summing to one.
    pub classes: [f32; CLASSES],
    /// Probability that a danger is happening now.
    pub urgent: f32,
}

impl Model {
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, ModelError> {
        let size = HEADER + BUCKETS * OUTPUTS;
        if bytes.len() != size || &bytes[..8] != MAGIC {
            return Err(ModelError(format!(
                "expected {size} bytes starting {:?}, found {} bytes",
                std::str::from_utf8(MAGIC).unwrap_or_default(),
                bytes.len()
            )));
        }
        let word = |at: usize| -> [u8; 4] { bytes[at..at + 4].try_into().unwrap_or([0; 4]) };
        let trained_on = u64::from_le_bytes(bytes[8..16].try_into().unwrap_or([0; 8]));
        let buckets = u32::from_le_bytes(word(16)) as usize;
        if buckets != BUCKETS {
            return Err(ModelError(format!(
                "expected {BUCKETS} slots, found {buckets}"
            )));
        }
        let mut scale = [0.0; OUTPUTS];
        let mut bias = [0.0; OUTPUTS];
        for k in 0..OUTPUTS {
            scale[k] = f32::from_le_bytes(word(20 + k * 8));
            bias[k] = f32::from_le_bytes(word(24 + k * 8));
        }
        let weights = bytes[HEADER..].iter().map(|&b| b as i8).collect();
        Ok(Model {
            weights,
            scale,
            bias,
            trained_on,
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.weights.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.trained_on.to_le_bytes());
        out.extend_from_slice(&(BUCKETS as u32).to_le_bytes());
        for k in 0..OUTPUTS {
            out.extend_from_slice(&self.scale[k].to_le_bytes());
            out.extend_from_slice(&self.bias[k].to_le_bytes());
        }
        out.extend(self.weights.iter().map(|&w| w as u8));
        out
    }

    /// The model's reading of a message: of the whole, and of each of its
    /// sentences alone, whichever is the most worrying, so one dangerous
    /// sentence in a long ordinary message is not drowned by the rest.
    pub fn read(&self, text: &str, stemmer: &Stemmer, slots: &mut Vec<u32>) -> Reading {
        features(text, stemmer, slots);
        let mut best = reading(&self.scores(slots), 0..text.len());
        // The most worrying sentence, which is what the excerpt shows even
        // when the whole message weighs more.
        let mut worst: Option<Reading> = None;
        for (i, sentence) in super::clauses(text).enumerate() {
            if i == 0 && sentence.len() == text.len() {
                break;
            }
            // A sentence is a slice of `text`: where it starts in it.
            let sentence = sentence.trim();
            let start = sentence.as_ptr() as usize - text.as_ptr() as usize;
            features(sentence, stemmer, slots);
            let r = reading(&self.scores(slots), start..start + sentence.len());
            if worst.as_ref().is_none_or(|w| r.risk > w.risk) {
                worst = Some(r);
            }
        }
        if let Some(worst) = worst {
            if worst.risk - SENTENCE_DOUBT > best.risk {
                best = Reading {
                    risk: worst.risk - SENTENCE_DOUBT,
                    ..worst
                };
            } else {
                best.span = worst.span;
            }
        }
        best
    }

    /// The model's reading of a message's feature slots.
    pub fn scores(&self, slots: &[u32]) -> Scores {
        let mut sums = [0i32; OUTPUTS];
        for &s in slots {
            let row = &self.weights[s as usize * OUTPUTS..][..OUTPUTS];
            for k in 0..OUTPUTS {
                sums[k] += i32::from(row[k]);
            }
        }
        let norm = 1.0 / (slots.len().max(1) as f32).sqrt();
        let logit = |k: usize| self.bias[k] + sums[k] as f32 * self.scale[k] * norm;
        let mut classes = [0.0f32; CLASSES];
        for (k, c) in classes.iter_mut().enumerate() {
            *c = logit(k);
        }
        Scores {
            classes: softmax(classes),
            urgent: sigmoid(logit(URGENT)),
        }
    }
}

fn softmax(mut z: [f32; CLASSES]) -> [f32; CLASSES] {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut total = 0.0;
    for v in &mut z {
        *v = (*v - max).exp();
        total += *v;
    }
    for v in &mut z {
        *v /= total;
    }
    z
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// How hard to train.
#[derive(Debug, Clone, Copy)]
pub struct Training {
    pub epochs: usize,
    pub rate: f32,
    /// L2 pull towards zero, per update.
    pub l2: f32,
}

impl Default for Training {
    fn default() -> Training {
        Training {
            epochs: 30,
            rate: 0.5,
            l2: 1e-5,
        }
    }
}

/// FNV-1a of the sets' texts, in order: what a model records it was
/// trained on.
pub fn fingerprint<'a>(sets: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for set in sets {
        for b in set.bytes().chain([0]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// One training row: its class, whether it is urgent, its feature slots.
struct Row {
    class: usize,
    urgent: bool,
    slots: Vec<u32>,
}

/// Trains a model on `examples`. Deterministic: the same examples in the
/// same order give the same model.
pub fn train(examples: &[Example], training: Training, trained_on: u64) -> Model {
    let stemmer = rules::stemmer();
    let mut slots = Vec::new();
    let mut data: Vec<Row> = Vec::new();
    for e in examples {
        features(&e.message, &stemmer, &mut slots);
        data.push(Row {
            class: class_of(e.category),
            urgent: e.urgent,
            slots: slots.clone(),
        });
        // Every sentence of a clear message is clear on its own too, so
        // reading a long message sentence by sentence stays calm.
        if e.category.is_none() {
            let sentences: Vec<&str> = super::clauses(&e.message).collect();
            if sentences.len() > 1 {
                for sentence in sentences {
                    features(sentence, &stemmer, &mut slots);
                    data.push(Row {
                        class: 0,
                        urgent: false,
                        slots: slots.clone(),
                    });
                }
            }
        }
    }
    // Clear and crisis messages weigh the same in total, whatever the
    // sets' balance; so do urgent and not urgent.
    let balance = |yes: usize| {
        let n = data.len() as f32;
        let yes = (yes as f32).max(1.0);
        (n / 2.0 / yes, n / 2.0 / (n - yes).max(1.0))
    };
    let (crisis_weight, clear_weight) = balance(data.iter().filter(|r| r.class != 0).count());
    // "Now" is learnt among crisis messages only: whether a danger is
    // happening now, not whether a message is a danger at all, which the
    // classes already say.
    let crises = data.iter().filter(|r| r.class != 0).count() as f32;
    let urgent = (data.iter().filter(|r| r.urgent).count() as f32).max(1.0);
    let (urgent_weight, calm_weight) = (
        crises / 2.0 / urgent,
        crises / 2.0 / (crises - urgent).max(1.0),
    );

    let mut w = vec![0.0f32; BUCKETS * OUTPUTS];
    let mut g2 = vec![1e-6f32; BUCKETS * OUTPUTS];
    let mut b = [0.0f32; OUTPUTS];
    let mut bg2 = [1e-6f32; OUTPUTS];
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut grads = [0.0f32; OUTPUTS];
    for _ in 0..training.epochs {
        // Fisher–Yates with a fixed xorshift, so training is repeatable.
        for i in (1..order.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            order.swap(i, (seed % (i as u64 + 1)) as usize);
        }
        for &i in &order {
            let row = &data[i];
            let norm = 1.0 / (row.slots.len().max(1) as f32).sqrt();
            let mut z = b;
            for &s in &row.slots {
                let ws = &w[s as usize * OUTPUTS..][..OUTPUTS];
                for k in 0..OUTPUTS {
                    z[k] += ws[k] * norm;
                }
            }
            let mut classes = [0.0f32; CLASSES];
            classes.copy_from_slice(&z[..CLASSES]);
            let p = softmax(classes);
            let weight = if row.class == 0 {
                clear_weight
            } else {
                crisis_weight
            };
            for k in 0..CLASSES {
                let target = if k == row.class { 1.0 } else { 0.0 };
                grads[k] = (p[k] - target) * weight;
            }
            let urgent_weight = if row.urgent {
                urgent_weight
            } else {
                calm_weight
            };
            grads[URGENT] = if row.class == 0 {
                0.0
            } else {
                (sigmoid(z[URGENT]) - if row.urgent { 1.0 } else { 0.0 }) * urgent_weight
            };
            for k in 0..OUTPUTS {
                let grad = grads[k];
                bg2[k] += grad * grad;
                b[k] -= training.rate * grad / bg2[k].sqrt();
                for &s in &row.slots {
                    let at = s as usize * OUTPUTS + k;
                    let g = grad * norm + training.l2 * w[at];
                    g2[at] += g * g;
                    w[at] -= training.rate * g / g2[at].sqrt();
                }
            }
        }
    }
    quantise(&w, b, trained_on)
}

fn quantise(w: &[f32], bias: [f32; OUTPUTS], trained_on: u64) -> Model {
    let mut scale = [0.0f32; OUTPUTS];
    for (k, scale) in scale.iter_mut().enumerate() {
        let max = (0..BUCKETS)
            .map(|s| w[s * OUTPUTS + k].abs())
            .fold(0.0f32, f32::max);
        *scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    }
    let weights = w
        .iter()
        .enumerate()
        .map(|(i, &v)| (v / scale[i % OUTPUTS]).round().clamp(-127.0, 127.0) as i8)
        .collect();
    Model {
        weights,
        scale,
        bias,
        trained_on,
    }
}

/// What the model makes of a message: the likeliest category, how much
/// weight it gives to the message being any crisis at all, and to the
/// danger being now.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub category: Category,
    /// The bytes of the message that worried the model most: the sentence,
    /// or all of it when it is one sentence.
    pub span: Range<usize>,
    /// One minus the probability of clear.
    pub risk: f32,
    /// How much of that the category takes (its probability over `risk`).
    pub share: f32,
    pub urgent: f32,
}

/// Reads the scores of `span` as a category, a risk and an urgency.
pub fn reading(scores: &Scores, span: Range<usize>) -> Reading {
    let c = &scores.classes;
    let mut best = 1;
    for k in 2..CLASSES {
        if c[k] > c[best] {
            best = k;
        }
    }
    Reading {
        category: Category::ALL[best - 1],
        span,
        risk: 1.0 - c[0],
        share: c[best] / (1.0 - c[0]).max(f32::MIN_POSITIVE),
        urgent: scores.urgent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(category: Option<Category>, urgent: bool, message: &str) -> Example {
        Example {
            category,
            urgent,
            message: message.into(),
            line: 0,
        }
    }

    fn tiny_set() -> Vec<Example> {
        let mut set = Vec::new();
        for i in 0..8 {
            set.push(example(
                Some(Category::Suicide),
                i % 2 == 0,
                &format!("the pills are lined up on the table {i}"),
            ));
            set.push(example(
                Some(Category::Abuse),
                false,
                &format!("he took my bank card and my phone again {i}"),
            ));
            set.push(example(
                None,
                false,
                &format!("we had a lovely walk by the river today {i}. the dog loved it."),
            ));
        }
        set
    }

    #[test]
    fn a_set_line_that_does_not_fit_names_its_line_and_what_was_expected() {
        let bad = parse_set("# heading\nok\t-\tfine\nmaybe\t-\thm\n").unwrap_err();
        assert_eq!(bad.line, 3);
        assert!(
            bad.problem.contains("expected urgent, crisis or ok"),
            "{bad}"
        );
        let bad = parse_set("crisis\t-\tno category\n").unwrap_err();
        assert!(bad.problem.contains("need a category"), "{bad}");
        let bad = parse_set("crisis\tsadness\tx\n").unwrap_err();
        assert!(bad.problem.contains("\"sadness\""), "{bad}");
        let rows = parse_set("urgent\tsuicide\ton the bridge\nok\t-\thello\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].urgent && rows[0].category == Some(Category::Suicide));
        assert_eq!((rows[1].category, rows[1].line), (None, 2));
    }

    #[test]
    fn training_is_repeatable_and_the_bytes_read_back_as_the_same_model() {
        let training = Training {
            epochs: 5,
            ..Training::default()
        };
        let a = train(&tiny_set(), training, 42);
        let b = train(&tiny_set(), training, 42);
        assert_eq!(a.to_bytes(), b.to_bytes());
        let back = Model::from_bytes(&a.to_bytes()).unwrap();
        assert!(back == a);
        assert_eq!(back.trained_on, 42);
    }

    #[test]
    fn a_file_that_is_not_a_model_is_refused_with_what_was_expected() {
        let err = Model::from_bytes(b"not a model").unwrap_err();
        assert!(err.0.contains("bytes"), "{err}");
        let mut bytes = train(&tiny_set(), Training::default(), 0).to_bytes();
        bytes[16] ^= 1;
        assert!(Model::from_bytes(&bytes).unwrap_err().0.contains("slots"));
    }

    #[test]
    fn it_learns_the_categories_and_the_urgency_it_was_shown() {
        let model = train(&tiny_set(), Training::default(), 0);
        let stemmer = stemmer();
        let mut slots = Vec::new();
        let pills = model.read("the pills are lined up on the table", &stemmer, &mut slots);
        assert_eq!(pills.category, Category::Suicide);
        assert!(pills.risk > 0.5, "{pills:?}");
        let card = model.read("he took my bank card and my phone", &stemmer, &mut slots);
        assert_eq!(card.category, Category::Abuse);
        assert!(card.urgent < pills.urgent, "{card:?} {pills:?}");
        let walk = model.read("a lovely walk by the river", &stemmer, &mut slots);
        assert!(walk.risk < 0.5, "{walk:?}");
    }

    #[test]
    fn one_worrying_sentence_in_a_long_calm_message_is_read_on_its_own() {
        let model = train(&tiny_set(), Training::default(), 0);
        let stemmer = stemmer();
        let mut slots = Vec::new();
        let calm = "We had a lovely walk by the river today. The dog loved it. ";
        let text = format!(
            "{}{calm}The pills are lined up on the table. {calm}",
            calm.repeat(4)
        );
        let whole = reading(
            &model.scores(&{
                features(&text, &stemmer, &mut slots);
                slots.clone()
            }),
            0..text.len(),
        );
        let read = model.read(&text, &stemmer, &mut slots);
        assert!(read.risk > whole.risk, "{read:?} {whole:?}");
        assert_eq!(
            &text[read.span.clone()],
            "The pills are lined up on the table."
        );
    }

    #[test]
    fn the_same_words_give_the_same_features_however_they_are_typed() {
        let stemmer = stemmer();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        features("I CAN'T do this anymore", &stemmer, &mut a);
        features("i cant do this any more", &stemmer, &mut b);
        assert!(!a.is_empty());
        let shared = a.iter().filter(|s| b.contains(s)).count();
        assert!(shared * 10 >= a.len() * 7, "{shared} of {}", a.len());
        features("i cant do this anymore", &stemmer, &mut b);
        assert_eq!(a, b);
    }
}
