//! A layered drawing of a small directed graph: boxes in columns by their
//! distance from the start, arrows between them routed so that they never
//! run through a box. Knows nothing of flows; the picture in `graph` gives
//! it box sizes and edges and draws what comes back.
//!
//! Columns run left to right. Layers are shortest distances, so an arrow
//! forward always goes to the very next column: it is a curve across the gap
//! between them. Any other arrow (back to an earlier column, within a
//! column, to itself) leaves into the gap beside its box, runs along a lane
//! of its own above all boxes, and comes down the gap before its target:
//! gaps and lanes hold no boxes, so no arrow crosses one.

use std::collections::VecDeque;

/// Space around the drawing, wide enough for the lane arrows in the first gap.
pub const MARGIN: i32 = 48;
/// Between columns: room for a curve and its label.
pub const COLUMN_GAP: i32 = 230;
/// Between boxes in one column.
pub const ROW_GAP: i32 = 28;
/// Between lanes, room for a lane's label above its line.
pub const LANE_GAP: i32 = 20;
/// Between the ends of arrows on one side of a box, room for a label each:
/// a box with many arrows is drawn taller to make that room.
pub const PORT_GAP: i32 = 17;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub w: i32,
    pub h: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

impl Rect {
    pub fn right(&self) -> i32 {
        self.x + self.w
    }

    pub fn bottom(&self) -> i32 {
        self.y + self.h
    }

    #[cfg(test)]
    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.right()
            && other.x < self.right()
            && self.y < other.bottom()
            && other.y < self.bottom()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// Distance from the start, or `None` if no path from the start reaches
    /// it (drawn in a column of its own after the others).
    pub layer: Option<usize>,
    pub rect: Rect,
}

/// An arrow: an SVG path from the edge of one box to the left side of another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The path's `d` attribute.
    pub path: String,
    pub start: (i32, i32),
    pub end: (i32, i32),
    /// Where its label ends: the label is drawn leftwards from this point,
    /// just above the arrow, close to its target (across) or to where it
    /// leaves its box (along a lane).
    pub label: (i32, i32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub nodes: Vec<Placed>,
    /// One for each edge given, in the same order.
    pub routes: Vec<Route>,
    pub width: i32,
    pub height: i32,
}

/// Places `sizes.len()` boxes and routes `edges` (pairs of indices into
/// `sizes`) between them, with `start` in the first column.
pub fn layout(sizes: &[Size], start: usize, edges: &[(usize, usize)]) -> Layout {
    let n = sizes.len();
    let (layers, order) = layers(n, start, edges);
    let last = order.len();
    let column = |i: usize| layers[i].unwrap_or(last);
    let mut columns = order;
    let unreached: Vec<usize> = (0..n).filter(|&i| layers[i].is_none()).collect();
    if !unreached.is_empty() {
        columns.push(unreached);
    }

    // Arrows that do not simply cross to the next column each get a lane.
    let mut back = 0;
    let lanes: Vec<Option<usize>> = edges
        .iter()
        .map(|&(from, to)| {
            (column(to) != column(from) + 1).then(|| {
                back += 1;
                back - 1
            })
        })
        .collect();

    let top = MARGIN + back as i32 * LANE_GAP;
    // How many arrows leave and reach each box.
    let mut ends = vec![(0, 0); n];
    for &(from, to) in edges {
        ends[from].0 += 1;
        ends[to].1 += 1;
    }
    let mut rects = vec![
        Rect {
            x: 0,
            y: 0,
            w: 0,
            h: 0
        };
        n
    ];
    let mut x = MARGIN;
    let mut column_x = Vec::new();
    let mut bottom = top;
    for members in &columns {
        column_x.push(x);
        let mut y = top;
        let mut widest = 0;
        for &i in members {
            let arrows = ends[i].0.max(ends[i].1) as i32;
            rects[i] = Rect {
                x,
                y,
                w: sizes[i].w,
                h: sizes[i].h.max((arrows + 1) * PORT_GAP),
            };
            bottom = bottom.max(rects[i].bottom());
            y = rects[i].bottom() + ROW_GAP;
            widest = widest.max(sizes[i].w);
        }
        x += widest + COLUMN_GAP;
    }
    let column_right = |c: usize| {
        columns[c]
            .iter()
            .map(|&i| rects[i].right())
            .max()
            .unwrap_or(column_x[c])
    };

    let (out_at, in_at) = ports(&rects, edges);
    let mut routes = Vec::with_capacity(edges.len());
    for (k, (&(from, to), lane)) in edges.iter().zip(&lanes).enumerate() {
        let start = (rects[from].right(), out_at[k]);
        let end = (rects[to].x, in_at[k]);
        let route = match *lane {
            None => across(start, end),
            Some(slot) => {
                // Spread the runs in a gap a little, so arrows sharing it stay apart.
                let step = (slot % 5) as i32 * 6;
                let out_x = column_right(column(from)) + 14 + step;
                let in_x = column_x[column(to)] - 14 - step;
                let lane_y = top - LANE_GAP / 2 - slot as i32 * LANE_GAP;
                around(start, end, out_x, in_x, lane_y)
            }
        };
        routes.push(route);
    }

    let right = columns
        .iter()
        .enumerate()
        .map(|(c, _)| column_right(c))
        .max()
        .unwrap_or(MARGIN);
    Layout {
        nodes: (0..n)
            .map(|i| Placed {
                layer: layers[i],
                rect: rects[i],
            })
            .collect(),
        routes,
        width: right + MARGIN + 30,
        height: bottom + MARGIN,
    }
}

/// Each box's distance from `start` along `edges` (breadth first), and the
/// boxes of each layer in the order they were first reached, so that a
/// box sits near the box that leads to it.
fn layers(
    n: usize,
    start: usize,
    edges: &[(usize, usize)],
) -> (Vec<Option<usize>>, Vec<Vec<usize>>) {
    let mut layer = vec![None; n];
    let mut order: Vec<Vec<usize>> = Vec::new();
    if start >= n {
        return (layer, order);
    }
    layer[start] = Some(0);
    order.push(vec![start]);
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        let depth = layer[node].unwrap_or(0) + 1;
        for &(_, to) in edges.iter().filter(|(from, _)| *from == node) {
            if to < n && layer[to].is_none() {
                layer[to] = Some(depth);
                if order.len() <= depth {
                    order.push(Vec::new());
                }
                order[depth].push(to);
                queue.push_back(to);
            }
        }
    }
    (layer, order)
}

/// Where each edge leaves its box's right side and enters its target's left
/// side: spread evenly down the side, in the order of the other end's
/// height, so arrows from one box fan out rather than cross.
fn ports(rects: &[Rect], edges: &[(usize, usize)]) -> (Vec<i32>, Vec<i32>) {
    let mut out_at = vec![0; edges.len()];
    let mut in_at = vec![0; edges.len()];
    for (node, rect) in rects.iter().enumerate() {
        let mut leaving: Vec<usize> = (0..edges.len()).filter(|&k| edges[k].0 == node).collect();
        leaving.sort_by_key(|&k| (rects[edges[k].1].y, rects[edges[k].1].x));
        for (slot, &k) in leaving.iter().enumerate() {
            out_at[k] = spread(rect, slot, leaving.len());
        }
        let mut arriving: Vec<usize> = (0..edges.len()).filter(|&k| edges[k].1 == node).collect();
        arriving.sort_by_key(|&k| (rects[edges[k].0].y, rects[edges[k].0].x));
        for (slot, &k) in arriving.iter().enumerate() {
            in_at[k] = spread(rect, slot, arriving.len());
        }
    }
    (out_at, in_at)
}

fn spread(rect: &Rect, slot: usize, of: usize) -> i32 {
    rect.y + rect.h * (slot as i32 + 1) / (of as i32 + 1)
}

fn across(start: (i32, i32), end: (i32, i32)) -> Route {
    let bend = (end.0 - start.0) / 2;
    Route {
        path: format!(
            "M {} {} C {} {}, {} {}, {} {}",
            start.0,
            start.1,
            start.0 + bend,
            start.1,
            end.0 - bend,
            end.1,
            end.0,
            end.1
        ),
        start,
        end,
        label: (end.0 - 10, end.1 - 4),
    }
}

fn around(start: (i32, i32), end: (i32, i32), out_x: i32, in_x: i32, lane_y: i32) -> Route {
    Route {
        path: format!(
            "M {} {} H {out_x} V {lane_y} H {in_x} V {} H {}",
            start.0, start.1, end.1, end.0
        ),
        start,
        end,
        label: (out_x - 8, lane_y - 4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(n: usize) -> Vec<Size> {
        (0..n)
            .map(|i| Size {
                w: 200 + (i as i32 % 3) * 40,
                h: 60 + (i as i32 % 4) * 25,
            })
            .collect()
    }

    /// 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3, 3 -> 0 (back), 3 -> 3 (itself),
    /// 1 -> 4, and 5, which nothing reaches, -> 2.
    fn sample() -> (Vec<Size>, Vec<(usize, usize)>) {
        let edges = vec![
            (0, 1),
            (0, 2),
            (1, 3),
            (2, 3),
            (3, 0),
            (3, 3),
            (1, 4),
            (5, 2),
        ];
        (sizes(6), edges)
    }

    #[test]
    fn layers_count_steps_from_the_start() {
        let (sizes, edges) = sample();
        let layout = layout(&sizes, 0, &edges);
        let layers: Vec<Option<usize>> = layout.nodes.iter().map(|n| n.layer).collect();
        assert_eq!(layers, [Some(0), Some(1), Some(1), Some(2), Some(2), None]);
        // Columns follow the layers, and the unreached box comes last.
        let x = |i: usize| layout.nodes[i].rect.x;
        assert!(x(0) < x(1) && x(1) == x(2) && x(2) < x(3) && x(3) == x(4) && x(4) < x(5));
    }

    #[test]
    fn a_start_in_the_middle_of_the_list_still_comes_first() {
        let sizes = sizes(3);
        let layout = layout(&sizes, 2, &[(2, 0), (0, 1)]);
        let layers: Vec<Option<usize>> = layout.nodes.iter().map(|n| n.layer).collect();
        assert_eq!(layers, [Some(1), Some(2), Some(0)]);
    }

    #[test]
    fn no_two_boxes_overlap_and_all_fit_in_the_drawing() {
        let (sizes, edges) = sample();
        // A wide fan as well, like a menu.
        let mut fan_sizes = sizes.clone();
        let mut fan_edges = edges.clone();
        for i in 0..14 {
            fan_sizes.push(Size { w: 120, h: 30 });
            fan_edges.push((0, 6 + i));
        }
        for (sizes, edges) in [(sizes, edges), (fan_sizes, fan_edges)] {
            let layout = layout(&sizes, 0, &edges);
            for (i, a) in layout.nodes.iter().enumerate() {
                assert_eq!(a.rect.w, sizes[i].w);
                assert!(a.rect.h >= sizes[i].h);
                assert!(a.rect.x >= MARGIN && a.rect.y >= MARGIN);
                assert!(a.rect.right() <= layout.width && a.rect.bottom() <= layout.height);
                for b in &layout.nodes[i + 1..] {
                    assert!(!a.rect.overlaps(&b.rect), "{a:?} overlaps {b:?}");
                }
            }
        }
    }

    #[test]
    fn arrows_leave_their_box_and_reach_their_target() {
        let (sizes, edges) = sample();
        let layout = layout(&sizes, 0, &edges);
        assert_eq!(layout.routes.len(), edges.len());
        for (route, &(from, to)) in layout.routes.iter().zip(&edges) {
            let (a, b) = (layout.nodes[from].rect, layout.nodes[to].rect);
            assert_eq!(route.start.0, a.right());
            assert!(route.start.1 > a.y && route.start.1 < a.bottom());
            assert_eq!(route.end.0, b.x);
            assert!(route.end.1 > b.y && route.end.1 < b.bottom());
            assert!(
                route
                    .path
                    .starts_with(&format!("M {} {}", route.start.0, route.start.1))
            );
            let (x, y) = route.end;
            assert!(
                route.path.ends_with(&format!(", {x} {y}"))
                    || route.path.ends_with(&format!("V {y} H {x}")),
                "{}",
                route.path
            );
        }
    }

    #[test]
    fn arrows_back_run_above_every_box() {
        let (sizes, edges) = sample();
        let layout = layout(&sizes, 0, &edges);
        let top = layout.nodes.iter().map(|n| n.rect.y).min().unwrap();
        let bottom = layout.nodes.iter().map(|n| n.rect.bottom()).max().unwrap();
        // 3 -> 0 goes back, and 5 (never reached) -> 2 too: both above everything.
        for k in [4, 7] {
            assert!(layout.routes[k].path.contains(" V "));
            assert!(layout.routes[k].label.1 < top);
        }
        // 1 -> 4 crosses to the next column as a curve.
        assert!(layout.routes[6].path.contains(" C "));
        assert!(bottom <= layout.height);
    }

    #[test]
    fn a_box_with_many_arrows_is_tall_enough_to_keep_their_ends_apart() {
        let sizes = vec![Size { w: 100, h: 20 }; 2];
        let edges = vec![(0, 1); 6];
        let layout = layout(&sizes, 0, &edges);
        let mut ends: Vec<i32> = layout.routes.iter().map(|r| r.end.1).collect();
        ends.sort();
        for pair in ends.windows(2) {
            assert!(pair[1] - pair[0] >= PORT_GAP - 1, "{ends:?}");
        }
    }

    #[test]
    fn overlap_is_strict() {
        let a = Rect {
            x: 0,
            y: 0,
            w: 10,
            h: 10,
        };
        let touching = Rect { x: 10, ..a };
        let inside = Rect { x: 5, y: 5, ..a };
        assert!(!a.overlaps(&touching));
        assert!(a.overlaps(&inside));
    }
}
