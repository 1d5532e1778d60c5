//! Content negotiation: parsing `Accept` and choosing the best representation (RFC 9110 §12).
//!
//! # Example
//!
//! ```
//! use tollgate::negotiate::Accept;
//!
//! let accept = Accept::parse("text/html;q=0.5, application/json");
//! let offers = [mime::TEXT_HTML, mime::APPLICATION_JSON];
//! assert_eq!(accept.best(&offers), Some(&mime::APPLICATION_JSON));
//! ```

use mime::Mime;

/// A parsed `Accept` header: media ranges with their quality. Malformed entries are skipped.
#[derive(Debug, Clone, Default)]
pub struct Accept {
    ranges: Vec<(Mime, u16)>,
}

impl Accept {
    /// Parses an `Accept` header value; entries that do not parse are skipped, never an error.
    pub fn parse(header: &str) -> Self {
        let ranges = header
            .split(',')
            .filter_map(|entry| {
                let mime: Mime = entry.trim().parse().ok()?;
                let q = mime
                    .get_param("q")
                    .map_or(Some(1000), |q| parse_q(q.as_str()))?;
                Some((mime, q))
            })
            .collect();
        Accept { ranges }
    }

    /// The offer the client likes best; ties go to the earlier offer. `None` when the client
    /// accepts none of them. An empty header accepts anything.
    pub fn best<'a>(&self, offers: &'a [Mime]) -> Option<&'a Mime> {
        if self.ranges.is_empty() {
            return offers.first();
        }
        let mut best: Option<(&Mime, u16)> = None;
        for offer in offers {
            let q = self.quality(offer);
            if q > 0 && best.is_none_or(|(_, bq)| q > bq) {
                best = Some((offer, q));
            }
        }
        best.map(|(m, _)| m)
    }

    /// The quality (0–1000) the client gives `offer`, from the most specific matching range.
    pub fn quality(&self, offer: &Mime) -> u16 {
        self.ranges
            .iter()
            .filter_map(|(range, q)| specificity(range, offer).map(|s| (s, *q)))
            .max_by_key(|(s, _)| *s)
            .map_or(0, |(_, q)| q)
    }
}

fn specificity(range: &Mime, offer: &Mime) -> Option<u8> {
    if range.type_() == mime::STAR {
        return Some(0);
    }
    if range.type_() != offer.type_() {
        return None;
    }
    if range.subtype() == mime::STAR {
        return Some(1);
    }
    if range.subtype() != offer.subtype() {
        return None;
    }
    let params: Vec<_> = range.params().filter(|(n, _)| *n != "q").collect();
    if params.iter().all(|(n, v)| offer.get_param(*n) == Some(*v)) {
        Some(2 + params.len().min(200) as u8)
    } else {
        None
    }
}

/// Parses a qvalue (`0`, `0.5`, `1.000`) into thousandths; `None` when malformed.
pub fn parse_q(q: &str) -> Option<u16> {
    let q = q.trim();
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}
