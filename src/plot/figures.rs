//! Drawing of the individual figures into in-memory PNGs.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use rand::seq::SliceRandom;

use super::layout::LayoutMethod;
use super::png::encode_rgb;
use crate::error::{Error, Result};
use crate::pipeline::report::{Iteration, Phase};

/// DejaVu Sans (Bitstream Vera licence, see assets/README.md), embedded so the
/// figures never depend on the fonts installed on the machine.
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
/// Family name the font is registered under; plotters' defaults use it too.
const FAMILY: &str = "sans-serif";

fn register_font() -> Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::Numeric(
            "the embedded font could not be loaded".into(),
        ))
    }
}

fn draw_err(e: impl std::fmt::Display) -> Error {
    Error::Numeric(format!("drawing a figure: {e}"))
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Pixel size of a figure and its scale against the 1100-pixel-wide design, so
/// text, margins and markers grow with the figure (plotters places glyphs on
/// whole pixels: larger text keeps the letter spacing even).
#[derive(Clone, Copy, Debug)]
pub(super) struct Canvas {
    pub w: u32,
    pub h: u32,
    s: f64,
}

impl Canvas {
    pub fn new(w: u32, h: u32) -> Self {
        Canvas {
            w,
            h,
            s: w as f64 / 1100.0,
        }
    }

    /// A font size.
    fn f(&self, v: f64) -> f64 {
        (v * self.s).round()
    }

    /// A length in pixels.
    fn p(&self, v: i32) -> i32 {
        (v as f64 * self.s).round() as i32
    }

    /// A non-negative length in pixels.
    fn u(&self, v: u32) -> u32 {
        (v as f64 * self.s).round() as u32
    }
}

/// Tick label without trailing zeros (`20`, `2.5`, `-0.25`).
fn tick(v: &f64) -> String {
    let r = format!("{v:.2}");
    let r = r.trim_end_matches('0').trim_end_matches('.');
    if r == "-0" {
        "0".into()
    } else {
        r.to_string()
    }
}

/// Tick label for integer-valued axes (nothing between integers).
fn int_tick(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-6 {
        format!("{}", v.round() as i64)
    } else {
        String::new()
    }
}

/// Renders a figure of `size` pixels with `draw` and encodes it as PNG.
fn render<F>(cv: Canvas, draw: F) -> Result<Vec<u8>>
where
    F: FnOnce(&Area) -> std::result::Result<(), Box<dyn std::error::Error>>,
{
    register_font()?;
    let (w, h) = (cv.w, cv.h);
    let size = (w, h);
    let mut buf = vec![255u8; 3 * w as usize * h as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        draw(&root).map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(encode_rgb(w, h, &buf))
}

/// Draws the title and a grey subtitle in a top band; returns the area below.
fn header<'a>(
    cv: Canvas,
    root: &Area<'a>,
    title: &str,
    subtitle: &str,
) -> std::result::Result<Area<'a>, Box<dyn std::error::Error>> {
    let (top, body) = root.split_vertically(cv.u(62));
    top.draw(&Text::new(
        title.to_string(),
        (cv.p(16), cv.p(10)),
        (FAMILY, cv.f(22.0)),
    ))?;
    top.draw(&Text::new(
        subtitle.to_string(),
        (cv.p(16), cv.p(38)),
        (FAMILY, cv.f(15.0))
            .into_font()
            .color(&RGBColor(80, 80, 80)),
    ))?;
    Ok(body)
}

/// Tableau-20 order: the ten strong colours first, then their light variants.
const PALETTE: [(u8, u8, u8); 20] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
    (174, 199, 232),
    (255, 187, 120),
    (152, 223, 138),
    (255, 152, 150),
    (197, 176, 213),
    (196, 156, 148),
    (247, 182, 210),
    (199, 199, 199),
    (219, 219, 141),
    (158, 218, 229),
];

/// Colour of category `i`: the palette, then golden-angle hues.
fn color(i: usize) -> RGBColor {
    if i < PALETTE.len() {
        let (r, g, b) = PALETTE[i];
        return RGBColor(r, g, b);
    }
    let h = ((i - PALETTE.len()) as f64 * 0.618_033_988_75).fract();
    let (r, g, b) = HSLColor(h, 0.65, 0.45).rgb();
    RGBColor(r, g, b)
}

const LIGHT_GREY: RGBColor = RGBColor(190, 190, 190);

/// Min and max of `v` padded by 5 % (± 1 when flat).
fn padded(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = v.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return (-1.0, 1.0);
    }
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 1.0 };
    (lo - pad, hi + pad)
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let t: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{t}…")
    }
}

/// A scatter of the 2-D layout with one colour per category and a legend on the
/// right (`names[c]` and the number of cells). With `grey_last`, the last name
/// (unlabelled cells) is drawn in grey.
#[allow(clippy::too_many_arguments)]
pub(super) fn scatter(
    cv: Canvas,
    title: &str,
    subtitle: &str,
    method: LayoutMethod,
    coords: &[[f32; 2]],
    codes: &[usize],
    names: &[String],
    grey_last: bool,
    seed: u64,
) -> Result<Vec<u8>> {
    let ncat = names.len().max(codes.iter().max().map_or(0, |m| m + 1));
    let mut counts = vec![0usize; ncat];
    for &c in codes {
        counts[c] += 1;
    }
    let col = |c: usize| {
        if grey_last && c + 1 == ncat && names.last().is_some_and(|n| n == super::UNLABELLED) {
            LIGHT_GREY
        } else {
            color(c)
        }
    };
    // A seeded shuffle: with a fixed (e.g. by label) order, the last category drawn
    // would hide the others wherever they overlap.
    let mut order: Vec<usize> = (0..coords.len()).collect();
    order.shuffle(&mut crate::rng::stream(seed, "plot-order"));
    let n = coords.len();
    let radius = if n <= 300 {
        5
    } else if n <= 3000 {
        3
    } else if n <= 30_000 {
        2
    } else {
        1
    };
    let xr = padded(coords.iter().map(|c| c[0] as f64));
    let yr = padded(coords.iter().map(|c| c[1] as f64));
    let axis = method.axis();
    render(cv, |root| {
        let body = header(cv, root, title, subtitle)?;
        let legend_w = cv.u(290).min(cv.w / 3);
        let (plot, legend) = body.split_horizontally(cv.w - legend_w);
        let mut chart = ChartBuilder::on(&plot)
            .margin(cv.p(12))
            .x_label_area_size(cv.u(40))
            .y_label_area_size(cv.u(56))
            .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(format!("{axis} 1"))
            .y_desc(format!("{axis} 2"))
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .label_style((FAMILY, cv.f(14.0)))
            .axis_desc_style((FAMILY, cv.f(16.0)))
            .draw()?;
        chart.draw_series(order.iter().map(|&i| {
            Circle::new(
                (coords[i][0] as f64, coords[i][1] as f64),
                cv.p(radius),
                col(codes[i]).mix(0.85).filled(),
            )
        }))?;
        draw_legend(cv, &legend, ncat, |c| {
            (
                col(c),
                format!(
                    "{} ({})",
                    names.get(c).map_or("?", String::as_str),
                    counts[c]
                ),
            )
        })?;
        Ok(())
    })
}

/// Legend entries in up to two columns, shrinking the rows to fit.
fn draw_legend(
    cv: Canvas,
    area: &Area,
    n: usize,
    entry: impl Fn(usize) -> (RGBColor, String),
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let (w, h) = area.dim_in_pixel();
    let avail = h.saturating_sub(cv.u(30)) as usize;
    let full = cv.u(22) as usize;
    let (cols, row_h) = if n * full <= avail {
        (1, full)
    } else {
        (2, (avail / n.div_ceil(2)).clamp(9, full))
    };
    let font = (row_h as f64 * 0.68).clamp(8.0, cv.f(15.0));
    let col_w = w as usize / cols;
    let max_chars = (col_w.saturating_sub(cv.u(24) as usize) as f64 / (font * 0.55)) as usize;
    let per_col = n.div_ceil(cols);
    for c in 0..n {
        let (color, label) = entry(c);
        let x = (c / per_col * col_w) as i32 + cv.p(6);
        let y = cv.p(20) + (c % per_col * row_h) as i32;
        area.draw(&Circle::new(
            (x + cv.p(6), y + row_h as i32 / 2),
            (row_h as i32 / 4).max(3),
            color.filled(),
        ))?;
        area.draw(&Text::new(
            shorten(&label, max_chars.max(6)),
            (x + cv.p(16), y + (row_h as i32 - font as i32) / 2),
            (FAMILY, font),
        ))?;
    }
    Ok(())
}

/// Phase kind: the name without its `emN.` prefix (`em3.feature_ae` → `feature_ae`).
fn phase_kind(name: &str) -> &str {
    match name.split_once('.') {
        Some((pre, rest))
            if pre.starts_with("em") && pre[2..].chars().all(|c| c.is_ascii_digit()) =>
        {
            rest
        }
        _ => name,
    }
}

/// Training losses of every phase on one log-scale axis: phases follow each
/// other along the x axis (cumulative epochs), coloured by phase kind.
pub(super) fn losses(cv: Canvas, title: &str, phases: &[Phase]) -> Result<Vec<u8>> {
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    // (kind index, phase name, (cumulative epoch, loss) points)
    type Series<'a> = (usize, &'a str, Vec<(f64, f64)>);
    let mut series: Vec<Series> = Vec::new();
    let mut offset = 0usize;
    let mut starts = Vec::new();
    for p in phases.iter().filter(|p| !p.losses.is_empty()) {
        starts.push(offset as f64 + 0.5);
        let kind = phase_kind(&p.name);
        let next = kinds.len();
        let k = *kinds.entry(kind).or_insert(next);
        let pts: Vec<(f64, f64)> = p
            .losses
            .iter()
            .enumerate()
            .filter(|(_, &l)| l.is_finite() && l > 0.0)
            .map(|(e, &l)| ((offset + e + 1) as f64, l))
            .collect();
        offset += p.losses.len();
        series.push((k, &p.name, pts));
    }
    let all = series.iter().flat_map(|s| s.2.iter().map(|p| p.1));
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    render(cv, |root| {
        let root = header(
            cv,
            root,
            title,
            "phases in run order along the x axis (grey lines: phase boundaries), coloured by kind",
        )?;
        if !lo.is_finite() {
            root.draw(&Text::new(
                "no training losses recorded",
                (cv.p(40), cv.p(60)),
                (FAMILY, cv.f(18.0)),
            ))?;
            return Ok(());
        }
        // Headroom above the curves (a quarter of the decades shown) for the legend.
        let ratio = (hi / lo).max(4.0);
        let (ylo, yhi) = (lo / ratio.powf(0.05), hi * ratio.powf(0.25));
        let mut chart = ChartBuilder::on(&root)
            .margin(cv.p(16))
            .x_label_area_size(cv.u(44))
            .y_label_area_size(cv.u(80))
            .build_cartesian_2d(0f64..(offset as f64 + 1.0), (ylo..yhi).log_scale())?;
        chart
            .configure_mesh()
            .light_line_style(RGBColor(235, 235, 235))
            .x_desc("epoch (phases run one after the other)")
            .y_desc("loss (log scale)")
            .x_label_formatter(&int_tick)
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .label_style((FAMILY, cv.f(14.0)))
            .axis_desc_style((FAMILY, cv.f(16.0)))
            .draw()?;
        // Phase boundaries, so a jump in the loss reads as a new phase, not a spike.
        for &x in starts.iter().skip(1) {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x, ylo), (x, yhi)],
                RGBColor(200, 200, 200).stroke_width(1),
            )))?;
        }
        let mut labelled = vec![false; kinds.len()];
        for (k, name, pts) in &series {
            let c = color(*k);
            let s = chart.draw_series(LineSeries::new(
                pts.iter().copied(),
                c.stroke_width(cv.u(2)),
            ))?;
            if !std::mem::replace(&mut labelled[*k], true) {
                s.label(phase_kind(name).to_string()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(cv.u(3)))
                });
            }
            // Single-epoch phases would be invisible as lines.
            if pts.len() == 1 {
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, cv.p(3), c.filled())))?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(120, 120, 120))
            .label_font((FAMILY, cv.f(15.0)))
            .draw()?;
        Ok(())
    })
}

/// Stacked bars: cells per cluster at every EM iteration, clusters ranked by
/// size within an iteration (labels are not matched across iterations), the
/// number of clusters above each bar.
pub(super) fn cluster_sizes(cv: Canvas, title: &str, iters: &[Iteration]) -> Result<Vec<u8>> {
    let total = iters
        .iter()
        .map(|it| it.cluster_sizes.iter().sum::<usize>())
        .max()
        .unwrap_or(0);
    let t = iters.len();
    render(cv, |root| {
        let root = header(
            cv,
            root,
            title,
            "cluster labels are not matched across iterations: bars stack clusters by size",
        )?;
        if t == 0 || total == 0 {
            root.draw(&Text::new(
                "no EM iterations recorded",
                (cv.p(40), cv.p(60)),
                (FAMILY, cv.f(18.0)),
            ))?;
            return Ok(());
        }
        let mut chart = ChartBuilder::on(&root)
            .margin(cv.p(16))
            .x_label_area_size(cv.u(44))
            .y_label_area_size(cv.u(70))
            .build_cartesian_2d(-0.6f64..(t as f64 - 0.4), 0f64..(total as f64 * 1.1))?;
        let ticks: Vec<usize> = iters.iter().map(|it| it.iteration).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(RGBColor(235, 235, 235))
            .x_labels(t.min(30))
            .x_label_formatter(&|v| {
                let r = v.round();
                if (v - r).abs() < 1e-6 && r >= 0.0 && (r as usize) < ticks.len() {
                    ticks[r as usize].to_string()
                } else {
                    String::new()
                }
            })
            .x_desc("EM iteration (0 = clustering before the EM loop)")
            .y_desc("cells (clusters ranked by size, largest at the bottom)")
            .y_label_formatter(&int_tick)
            .label_style((FAMILY, cv.f(14.0)))
            .axis_desc_style((FAMILY, cv.f(15.0)))
            .draw()?;
        for (x, it) in iters.iter().enumerate() {
            let mut sizes = it.cluster_sizes.clone();
            sizes.sort_unstable_by(|a, b| b.cmp(a));
            let mut base = 0f64;
            let (x0, x1) = (x as f64 - 0.35, x as f64 + 0.35);
            for (rank, &s) in sizes.iter().enumerate() {
                let top = base + s as f64;
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x0, base), (x1, top)],
                    color(rank).filled(),
                )))?;
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x0, base), (x1, top)],
                    WHITE.stroke_width(cv.u(1)),
                )))?;
                base = top;
            }
            chart.draw_series(std::iter::once(Text::new(
                format!("K={}", sizes.len()),
                (x as f64 - 0.25, base + total as f64 * 0.045),
                (FAMILY, cv.f(14.0)),
            )))?;
        }
        Ok(())
    })
}

/// Histogram of the cell degrees in the kept graph (directed edges of weight > 0
/// taken as undirected, each pair once), with the number of pruned edges.
pub(super) fn degrees(
    cv: Canvas,
    title: &str,
    n: usize,
    edges: &[(u32, u32, f32)],
) -> Result<Vec<u8>> {
    let mut pairs: Vec<(u32, u32)> = edges
        .iter()
        .filter(|e| e.2 > 0.0 && e.0 != e.1)
        .map(|e| (e.0.min(e.1), e.0.max(e.1)))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let pruned = edges.iter().filter(|e| e.2 <= 0.0).count();
    let mut deg = vec![0usize; n];
    for &(a, b) in &pairs {
        deg[a as usize] += 1;
        deg[b as usize] += 1;
    }
    let dmax = deg.iter().copied().max().unwrap_or(0);
    let mut hist = vec![0usize; dmax + 1];
    for &d in &deg {
        hist[d] += 1;
    }
    let hmax = hist.iter().copied().max().unwrap_or(0);
    let mean = 2.0 * pairs.len() as f64 / n.max(1) as f64;
    let subtitle = format!(
        "{n} cells, {} undirected kept edges (mean degree {mean:.1}), {pruned} of {} directed KNN edges pruned",
        pairs.len(),
        edges.len()
    );
    render(cv, |root| {
        let body = header(cv, root, title, &subtitle)?;
        if edges.is_empty() {
            body.draw(&Text::new(
                "the graph has no edges",
                (cv.p(40), cv.p(30)),
                (FAMILY, cv.f(18.0)),
            ))?;
            return Ok(());
        }
        let mut chart = ChartBuilder::on(&body)
            .margin(cv.p(16))
            .x_label_area_size(cv.u(44))
            .y_label_area_size(cv.u(70))
            .build_cartesian_2d(-0.6f64..(dmax as f64 + 0.6), 0f64..(hmax as f64 * 1.08))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(RGBColor(235, 235, 235))
            .x_label_formatter(&int_tick)
            .y_label_formatter(&int_tick)
            .x_desc("degree (kept edges, undirected)")
            .y_desc("cells")
            .label_style((FAMILY, cv.f(14.0)))
            .axis_desc_style((FAMILY, cv.f(16.0)))
            .draw()?;
        chart.draw_series(
            hist.iter()
                .enumerate()
                .filter(|(_, &c)| c > 0)
                .map(|(d, &c)| {
                    Rectangle::new(
                        [(d as f64 - 0.42, 0.0), (d as f64 + 0.42, c as f64)],
                        color(0).filled(),
                    )
                }),
        )?;
        Ok(())
    })
}
