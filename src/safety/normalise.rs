//! Normalisation shared by the phrase lists (at load) and by messages (at
//! screen time), so both sides are compared in the same plain form: lower-case
//! ASCII-ish words separated by single spaces.
//!
//! One pass over the input, with an ASCII fast path. In order, per character:
//! invisible characters (zero-width, joiners, bidi controls, soft hyphen) are
//! dropped; apostrophes of every shape are dropped (so "can't" and "cant"
//! meet); a few look-alike Cyrillic/Greek letters become their Latin twins;
//! everything else is compatibility-decomposed (NFKD, which folds fullwidth
//! and styled letters), combining marks are stripped and the rest lower-cased.
//! Letters, digits and the symbols `@ $ !` make up words; anything else
//! separates words. Then, per word: digit/symbol swaps (`k1ll`, `$uicide`,
//! `d!e`) apply only inside words that also contain a letter, so "5 years"
//! stays "5 years"; runs of three or more single letters separated by spaces,
//! dots or dashes are joined ("k i l l" -> "kill"); and a small table unifies
//! spellings ("do not"/"don't" -> "dont", "want to" -> "wanna", "u" -> "you").

use std::ops::Range;

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// How a `1` inside a word is read: `k1ll` wants `i`, `ki11` wants `l`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum One {
    I,
    L,
}

/// The normalised text plus what the matcher needs to know about it. Kept
/// between calls so its buffers are reused.
#[derive(Debug, Default)]
pub(crate) struct Normalised {
    pub text: String,
    /// Byte ranges of `text` that were joined from spaced-out letters.
    pub collapsed: Vec<Range<usize>>,
    /// A `1` was read as a letter; reading it the other way may matter.
    pub ambiguous_one: bool,
    tok: Vec<u8>,
    run: Vec<u8>,
    word: Vec<u8>,
}

/// Normalise `text` the way the screen sees it (see the module docs).
pub fn normalise(text: &str) -> String {
    let mut n = Normalised::default();
    normalise_into(text, One::I, &mut n);
    n.text
}

pub(crate) fn normalise_into(text: &str, one: One, n: &mut Normalised) {
    let mut out = std::mem::take(&mut n.text).into_bytes();
    out.clear();
    out.reserve(text.len() + 8);
    n.collapsed.clear();
    n.tok.clear();
    n.run.clear();
    n.word.clear();
    let mut st = State {
        out,
        collapsed: std::mem::take(&mut n.collapsed),
        tok: std::mem::take(&mut n.tok),
        tok_alpha: false,
        tok_leet: false,
        run: std::mem::take(&mut n.run),
        word: std::mem::take(&mut n.word),
        prev: None,
        one: match one {
            One::I => b'i',
            One::L => b'l',
        },
        ambiguous: false,
    };
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_lowercase() && st.tok.is_empty() {
            // Fastest path: a whole lower-case word, written straight out.
            let start = i;
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_lowercase() {
                i += 1;
            }
            if i == bytes.len() || matches!(bytes[i], b' ' | b',' | b'.' | b'\n') {
                st.whole_word(&bytes[start..i]);
            } else {
                st.tok.extend_from_slice(&bytes[start..i]);
                st.tok_alpha = true;
            }
        } else if b.is_ascii_alphabetic() {
            // Fast path: a run of ASCII letters is copied in one go.
            let start = i;
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let from = st.tok.len();
            st.tok.extend_from_slice(&bytes[start..i]);
            st.tok[from..].make_ascii_lowercase();
            st.tok_alpha = true;
        } else if b == b' ' {
            st.end_token();
            i += 1;
        } else if b < 0x80 {
            st.ascii(b);
            i += 1;
        } else {
            // `i` always sits on a char boundary: it only moves by whole chars.
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            i += c.len_utf8();
            st.non_ascii(c);
        }
    }
    st.end_token();
    st.flush_run();
    n.text = String::from_utf8(st.out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    n.collapsed = st.collapsed;
    n.ambiguous_one = st.ambiguous;
    n.tok = st.tok;
    n.run = st.run;
    n.word = st.word;
}

struct State {
    out: Vec<u8>,
    collapsed: Vec<Range<usize>>,
    /// The word being read (UTF-8), before swaps.
    tok: Vec<u8>,
    tok_alpha: bool,
    /// The word holds a digit or one of `@ $ !`.
    tok_leet: bool,
    /// Single characters waiting to see whether they form a spaced-out word.
    run: Vec<u8>,
    /// Scratch for the word being written.
    word: Vec<u8>,
    /// Where the last written word starts in `out`.
    prev: Option<usize>,
    one: u8,
    ambiguous: bool,
}

fn is_leet(b: u8) -> bool {
    matches!(
        b,
        b'0' | b'1' | b'3' | b'4' | b'5' | b'7' | b'@' | b'$' | b'!'
    )
}

impl State {
    #[inline]
    fn ascii(&mut self, b: u8) {
        match b {
            b'a'..=b'z' => {
                self.tok.push(b);
                self.tok_alpha = true;
            }
            b'A'..=b'Z' => {
                self.tok.push(b | 0x20);
                self.tok_alpha = true;
            }
            b'0'..=b'9' | b'@' | b'$' | b'!' => {
                self.tok.push(b);
                self.tok_leet = true;
            }
            // Apostrophes vanish: "can't" == "cant".
            b'\'' | b'`' => {}
            // Separators that may sit inside a spaced-out word: "k.i.l.l".
            b' ' | b'\t' | b'.' | b'-' | b'_' | b'*' | b'~' | b'+' => self.end_token(),
            _ => {
                self.end_token();
                self.flush_run();
            }
        }
    }

    fn non_ascii(&mut self, c: char) {
        match c {
            // Zero-width characters, joiners, bidi controls, soft hyphen.
            '\u{200B}'..='\u{200F}'
            | '\u{2060}'..='\u{2064}'
            | '\u{FEFF}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{00AD}'
            | '\u{180E}'
            | '\u{061C}'
            | '\u{034F}' => {}
            // Apostrophe look-alikes.
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{2035}'
            | '\u{02BC}' | '\u{02B9}' | '\u{00B4}' | '\u{02BB}' | '\u{FF07}' => {}
            _ => {
                if let Some(s) = fold_special(c) {
                    for &b in s.as_bytes() {
                        self.ascii(b);
                    }
                } else {
                    decompose_compatible(c, |d| self.decomposed(d));
                }
            }
        }
    }

    fn decomposed(&mut self, d: char) {
        if d.is_ascii() {
            self.ascii(d as u8);
            return;
        }
        if is_combining_mark(d) {
            return;
        }
        if let Some(s) = fold_special(d) {
            for &b in s.as_bytes() {
                self.ascii(b);
            }
            return;
        }
        for l in d.to_lowercase() {
            if l.is_ascii() {
                self.ascii(l as u8);
            } else if is_combining_mark(l) {
                continue;
            } else if l.is_alphanumeric() {
                let mut buf = [0u8; 4];
                self.tok
                    .extend_from_slice(l.encode_utf8(&mut buf).as_bytes());
                self.tok_alpha = true;
            } else if l.is_whitespace() {
                self.end_token();
            } else {
                self.end_token();
                self.flush_run();
            }
        }
    }

    /// A complete lower-case ASCII word that never went through `tok`.
    #[inline]
    fn whole_word(&mut self, t: &[u8]) {
        if t.len() == 1 {
            self.run.push(t[0]);
        } else {
            self.flush_run();
            self.write_plain(t, false);
        }
    }

    /// The current word is complete.
    fn end_token(&mut self) {
        if self.tok.is_empty() {
            return;
        }
        let tok = std::mem::take(&mut self.tok);
        let (alpha, leet) = (self.tok_alpha, self.tok_leet);
        self.tok_alpha = false;
        self.tok_leet = false;
        let t: &[u8] = if leet {
            // `!` at either end is punctuation, not a letter.
            let start = tok.iter().position(|&b| b != b'!').unwrap_or(tok.len());
            let end = tok
                .iter()
                .rposition(|&b| b != b'!')
                .map_or(start, |p| p + 1);
            &tok[start..end]
        } else {
            &tok
        };
        if t.is_empty() {
            self.flush_run();
        } else if t.len() == 1 && (t[0].is_ascii_lowercase() || is_leet(t[0])) {
            self.run.push(t[0]);
        } else {
            self.flush_run();
            self.write_word(t, alpha, leet, false);
        }
        self.tok = tok;
        self.tok.clear();
    }

    /// Single characters collected so far: three or more form one word.
    fn flush_run(&mut self) {
        if self.run.is_empty() {
            return;
        }
        let run = std::mem::take(&mut self.run);
        if run.len() >= 3 {
            let alpha = run.iter().any(u8::is_ascii_lowercase);
            let leet = run.iter().any(|&b| is_leet(b));
            self.write_word(&run, alpha, leet, true);
        } else {
            for i in 0..run.len() {
                let alpha = run[i].is_ascii_lowercase();
                self.write_word(&run[i..i + 1], alpha, !alpha, false);
            }
        }
        self.run = run;
        self.run.clear();
    }

    /// Apply swaps and spelling unification, then append to `out`.
    fn write_word(&mut self, t: &[u8], alpha: bool, leet: bool, collapsed: bool) {
        if !leet {
            self.write_plain(t, collapsed);
            return;
        }
        let mut word = std::mem::take(&mut self.word);
        word.clear();
        if alpha {
            for &b in t {
                word.push(match b {
                    b'0' => b'o',
                    b'1' => {
                        self.ambiguous = true;
                        self.one
                    }
                    b'3' => b'e',
                    b'4' => b'a',
                    b'5' | b'$' => b's',
                    b'7' => b't',
                    b'@' => b'a',
                    b'!' => b'i',
                    other => other,
                });
            }
        } else {
            word.extend(
                t.iter()
                    .copied()
                    .filter(|&b| !matches!(b, b'@' | b'$' | b'!')),
            );
        }
        if !word.is_empty() {
            self.write_plain(&word, collapsed);
        }
        self.word = word;
    }

    fn write_plain(&mut self, w: &[u8], collapsed: bool) {
        match unigram(w) {
            Some(rep) => {
                for part in rep.split(|&b| b == b' ') {
                    self.append(part, collapsed);
                }
            }
            None => self.append(w, collapsed),
        }
    }

    fn append(&mut self, w: &[u8], collapsed: bool) {
        if let Some(p) = self.prev
            && let Some(joined) = bigram(&self.out[p..], w)
        {
            self.out.truncate(p);
            self.out.extend_from_slice(&joined);
            if collapsed {
                self.collapsed.push(p..self.out.len());
            }
            return;
        }
        if !self.out.is_empty() {
            self.out.push(b' ');
        }
        let start = self.out.len();
        self.out.extend_from_slice(w);
        self.prev = Some(start);
        if collapsed {
            self.collapsed.push(start..self.out.len());
        }
    }
}

/// Letters NFKD leaves alone but people use as plain Latin letters.
fn fold_special(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' | 'ẞ' => "ss",
        'æ' | 'Æ' => "ae",
        'œ' | 'Œ' => "oe",
        'ø' | 'Ø' => "o",
        'đ' | 'Đ' => "d",
        'ł' | 'Ł' => "l",
        'ı' => "i",
        // Cyrillic look-alikes.
        'а' | 'А' => "a",
        'в' | 'В' => "b",
        'е' | 'Е' | 'ё' | 'Ё' => "e",
        'к' | 'К' => "k",
        'м' | 'М' => "m",
        'н' | 'Н' => "h",
        'о' | 'О' => "o",
        'р' | 'Р' => "p",
        'с' | 'С' => "c",
        'т' | 'Т' => "t",
        'у' | 'У' => "y",
        'х' | 'Х' => "x",
        'і' | 'І' => "i",
        'ј' | 'Ј' => "j",
        'ѕ' | 'Ѕ' => "s",
        'ԁ' => "d",
        // Greek look-alikes.
        'α' | 'Α' => "a",
        'β' | 'Β' => "b",
        'ε' | 'Ε' => "e",
        'η' | 'Η' => "h",
        'ι' | 'Ι' => "i",
        'κ' | 'Κ' => "k",
        'μ' | 'Μ' => "m",
        'ν' | 'Ν' => "n",
        'ο' | 'Ο' => "o",
        'ρ' | 'Ρ' => "p",
        'τ' | 'Τ' => "t",
        'υ' | 'Υ' => "u",
        'χ' | 'Χ' => "x",
        'ζ' | 'Ζ' => "z",
        // Letters in filled circles and squares, and regional indicators,
        // which have no compatibility form but which fancy-text generators
        // use for plain letters ("🅺🅸🅻🅻" is "kill").
        '\u{1F150}'..='\u{1F169}' => letter(c as u32 - 0x1F150),
        '\u{1F170}'..='\u{1F189}' => letter(c as u32 - 0x1F170),
        '\u{1F1E6}'..='\u{1F1FF}' => letter(c as u32 - 0x1F1E6),
        _ => return None,
    })
}

/// The `i`th letter of the alphabet, from 0.
fn letter(i: u32) -> &'static str {
    const LETTERS: &str = "abcdefghijklmnopqrstuvwxyz";
    let i = i as usize;
    &LETTERS[i..=i]
}

/// Whole-word spellings unified to one form.
fn unigram(w: &[u8]) -> Option<&'static [u8]> {
    Some(match w {
        b"cannot" | b"cnt" => b"cant",
        b"u" => b"you",
        b"ur" | b"youre" | b"yr" => b"your",
        b"gf" => b"girlfriend",
        b"bf" => b"boyfriend",
        b"hubby" | b"hubs" => b"husband",
        b"imma" | b"ima" => b"im gonna",
        b"gunna" | b"goin" => b"gonna",
        b"wana" | b"wanta" => b"wanna",
        b"dnt" => b"dont",
        b"cuz" | b"coz" | b"bc" | b"bcoz" | b"bcos" => b"because",
        b"pls" | b"plz" => b"please",
        b"ppl" => b"people",
        b"thru" => b"through",
        b"tho" => b"though",
        b"myslef" => b"myself",
        _ => return None,
    })
}

/// Two words that mean one: "do not" -> "dont", "want to" -> "wanna".
fn bigram(prev: &[u8], cur: &[u8]) -> Option<Vec<u8>> {
    let joined = |a: &[u8], b: &[u8]| {
        let mut v = Vec::with_capacity(a.len() + b.len());
        v.extend_from_slice(a);
        v.extend_from_slice(b);
        Some(v)
    };
    match cur {
        b"not" => match prev {
            b"will" => Some(b"wont".to_vec()),
            b"can" => Some(b"cant".to_vec()),
            b"do" | b"does" | b"did" | b"could" | b"would" | b"should" | b"is" | b"are"
            | b"was" | b"were" | b"have" | b"has" | b"had" | b"must" | b"need" => {
                joined(prev, b"nt")
            }
            _ => None,
        },
        b"am" if prev == b"i" => Some(b"im".to_vec()),
        b"to" => match prev {
            b"going" => Some(b"gonna".to_vec()),
            b"want" => Some(b"wanna".to_vec()),
            b"got" => Some(b"gotta".to_vec()),
            _ => None,
        },
        b"self" | b"selves" => match prev {
            b"my" | b"your" | b"him" | b"her" | b"them" | b"our" => joined(prev, cur),
            _ => None,
        },
        b"more" if prev == b"any" => Some(b"anymore".to_vec()),
        b"one" | b"body" if prev == b"no" => joined(prev, cur),
        _ => None,
    }
}
