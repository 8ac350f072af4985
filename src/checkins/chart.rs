//! The `/progress` chart: the same last 30 days as the text view, drawn as a
//! PNG in memory. The scale (1 to 5) is a line with a dot for each answered
//! day, gaps left open; the small action is a row of marks along the bottom;
//! the last 14 days are shaded. Text uses DejaVu Sans from the `dejavu`
//! crate, so no system font (or fontconfig) is needed.

use std::sync::OnceLock;

use jiff::ToSpan;
use jiff::civil::Date;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::checkins::Day;

/// The chart's size in pixels.
pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 400;

/// Days drawn, ending today.
const DAYS: i32 = 30;
/// The most recent days, shaded.
const RECENT: i32 = 14;

const FONT: &str = "sans-serif";

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("the chart could not be drawn: {0}")]
    Draw(String),
    #[error("the chart could not be encoded: {0}")]
    Encode(#[from] png::EncodingError),
}

fn draw_err(err: impl std::fmt::Display) -> ChartError {
    ChartError::Draw(err.to_string())
}

/// Registers the bundled font with plotters, once.
fn font() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ChartError::Draw("the bundled font did not load".into()))
    }
}

const INK: RGBColor = RGBColor(51, 51, 68);
const LINE: RGBColor = RGBColor(70, 110, 170);
const SHADE: RGBColor = RGBColor(236, 241, 248);
const YES: RGBColor = RGBColor(60, 140, 90);
const PARTLY: RGBColor = RGBColor(215, 160, 50);
const NOT_TODAY: RGBColor = RGBColor(160, 160, 160);

/// The last 30 days up to `today` as a PNG, `WIDTH` by `HEIGHT`.
pub fn progress_png(days: &[Day], today: Date) -> Result<Vec<u8>, ChartError> {
    font()?;
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    draw(&mut pixels, days, today)?;
    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(png_bytes)
}

/// Day `i` of the chart (0 is 29 days ago, 29 is today).
fn date_at(today: Date, i: i32) -> Option<Date> {
    today.checked_sub((DAYS - 1 - i).days()).ok()
}

fn draw(pixels: &mut [u8], days: &[Day], today: Date) -> Result<(), ChartError> {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let answer = |i: i32| date_at(today, i).and_then(|date| days.iter().find(|d| d.day == date));

    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Your last 30 days: how safe and close things felt (1 to 5)",
            (FONT, 20).into_font().color(&INK),
        )
        .margin(16)
        .x_label_area_size(36)
        .y_label_area_size(36)
        .build_cartesian_2d(-0.5f64..(DAYS as f64 - 0.5), 0f64..5.5f64)
        .map_err(draw_err)?;

    // The last 14 days, shaded behind everything.
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [
                ((DAYS - RECENT) as f64 - 0.5, 0.0),
                (DAYS as f64 - 0.5, 5.5),
            ],
            SHADE.filled(),
        )))
        .map_err(draw_err)?;

    let label_day = |x: &f64| {
        let i = x.round() as i32;
        match date_at(today, i) {
            Some(_) if i == DAYS - 1 => "today".to_owned(),
            Some(date) => date.strftime("%-d %b").to_string(),
            None => String::new(),
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_labels(6)
        .y_label_formatter(&|y| {
            if (1.0..=5.0).contains(y) {
                format!("{y:.0}")
            } else {
                String::new()
            }
        })
        .x_labels(8)
        .x_label_formatter(&label_day)
        .label_style((FONT, 13).into_font().color(&INK))
        .axis_style(INK)
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()
        .map_err(draw_err)?;

    // The scale: runs of answered days joined, gaps left open.
    let scale = |i: i32| answer(i).and_then(|d| d.scale).map(f64::from);
    let mut run: Vec<(f64, f64)> = Vec::new();
    let mut runs = Vec::new();
    for i in 0..DAYS {
        match scale(i) {
            Some(y) => run.push((f64::from(i), y)),
            None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
            None => {}
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    for run in runs {
        chart
            .draw_series(LineSeries::new(run.iter().copied(), LINE.stroke_width(3)))
            .map_err(draw_err)?;
        chart
            .draw_series(
                run.iter()
                    .map(|&point| Circle::new(point, 5, LINE.filled())),
            )
            .map_err(draw_err)?;
    }

    // The small action: a mark per answered day along the bottom.
    for i in 0..DAYS {
        let Some(action) = answer(i).and_then(|d| d.action.as_deref()) else {
            continue;
        };
        let at = (f64::from(i), 0.45);
        match action {
            "yes" => chart.draw_series(std::iter::once(Circle::new(at, 6, YES.filled()))),
            "partly" => {
                chart.draw_series(std::iter::once(Circle::new(at, 6, PARTLY.stroke_width(3))))
            }
            _ => chart.draw_series(std::iter::once(Cross::new(
                at,
                5,
                NOT_TODAY.stroke_width(2),
            ))),
        }
        .map_err(draw_err)?;
    }

    // A key for the marks, in words.
    let key = (FONT, 13).into_font().color(&INK);
    root.draw(&Text::new(
        "Bottom row, your small action: filled = yes, ring = partly, x = not today. Shaded: last 14 days.",
        (52, (HEIGHT - 18) as i32),
        key,
    ))
    .map_err(draw_err)?;
    root.present().map_err(draw_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn day(d: Date, scale: Option<u8>, action: Option<&str>) -> Day {
        Day {
            day: d,
            scale,
            action: action.map(str::to_owned),
            has_note: false,
        }
    }

    /// The PNG signature and the IHDR chunk's width and height.
    fn check_png(bytes: &[u8]) {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&bytes[12..16], b"IHDR");
        let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
        assert_eq!((width, height), (WIDTH, HEIGHT));
        // It decodes back to the same size.
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let reader = decoder.read_info().unwrap();
        assert_eq!(reader.info().width, WIDTH);
    }

    #[test]
    fn an_empty_month_still_draws() {
        check_png(&progress_png(&[], date(2027, 6, 30)).unwrap());
    }

    #[test]
    fn one_day_draws() {
        let days = [day(date(2027, 6, 30), Some(4), Some("partly"))];
        check_png(&progress_png(&days, date(2027, 6, 30)).unwrap());
    }

    #[test]
    fn thirty_days_and_older_ones_draw() {
        let today = date(2027, 3, 31);
        let actions = ["yes", "partly", "not_today"];
        let days: Vec<Day> = (0..40i64)
            .map(|back| {
                day(
                    today.checked_sub(back.days()).unwrap(),
                    // Some days without a scale, to leave gaps in the line.
                    (back % 7 != 3).then_some((back % 5 + 1) as u8),
                    Some(actions[(back % 3) as usize]),
                )
            })
            .collect();
        let full = progress_png(&days, today).unwrap();
        check_png(&full);
        // Different data draws a different picture.
        assert_ne!(full, progress_png(&days[..1], today).unwrap());
    }
}
