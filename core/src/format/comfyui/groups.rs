//! Which nodes lie inside a group's box, without testing every node against
//! every group: a static 2-D range index (a segment tree over the points
//! sorted by x, each tree node holding its points sorted by y). A box query
//! costs O(log² n) plus the points it finds.

/// Most group memberships one import makes, all groups together.
pub(super) const MAX_GROUP_MEMBERS: usize = 250_000;

#[derive(Debug)]
pub(super) struct PointIndex {
    /// The x of each point, in x order.
    xs: Vec<f64>,
    /// Per tree node, its points as (y, point index), in y order.
    tree: Vec<Vec<(f64, usize)>>,
    leaves: usize,
}

impl PointIndex {
    /// Indexes finite points.
    pub fn new(points: &[(f64, f64)]) -> Self {
        let mut order: Vec<usize> = (0..points.len()).collect();
        order.sort_by(|&a, &b| points[a].0.total_cmp(&points[b].0));
        let xs = order.iter().map(|&i| points[i].0).collect();
        let leaves = points.len().next_power_of_two();
        let mut tree = vec![Vec::new(); 2 * leaves];
        for (at, &i) in order.iter().enumerate() {
            tree[leaves + at] = vec![(points[i].1, i)];
        }
        for t in (1..leaves).rev() {
            tree[t] = merge(&tree[2 * t], &tree[2 * t + 1]);
        }
        PointIndex { xs, tree, leaves }
    }

    /// How many points have `x0 <= x <= x1` and `y0 <= y <= y1`.
    pub fn count(&self, x0: f64, x1: f64, y0: f64, y1: f64) -> usize {
        let mut n = 0;
        self.visit(x0, x1, y0, y1, |points| n += points.len());
        n
    }

    /// The points with `x0 <= x <= x1` and `y0 <= y <= y1`, by index, ascending.
    pub fn inside(&self, x0: f64, x1: f64, y0: f64, y1: f64) -> Vec<usize> {
        let mut out = Vec::new();
        self.visit(x0, x1, y0, y1, |points| {
            out.extend(points.iter().map(|&(_, i)| i));
        });
        out.sort_unstable();
        out
    }

    /// Calls `found` with the runs of points inside the box, O(log n) runs.
    fn visit(&self, x0: f64, x1: f64, y0: f64, y1: f64, mut found: impl FnMut(&[(f64, usize)])) {
        if !(x0 <= x1 && y0 <= y1) {
            return;
        }
        let mut lo = self.xs.partition_point(|&x| x < x0) + self.leaves;
        let mut hi = self.xs.partition_point(|&x| x <= x1) + self.leaves;
        let mut take = |points: &[(f64, usize)]| {
            let from = points.partition_point(|&(y, _)| y < y0);
            let to = points.partition_point(|&(y, _)| y <= y1);
            if from < to {
                found(&points[from..to]);
            }
        };
        while lo < hi {
            if lo & 1 == 1 {
                take(&self.tree[lo]);
                lo += 1;
            }
            if hi & 1 == 1 {
                hi -= 1;
                take(&self.tree[hi]);
            }
            lo /= 2;
            hi /= 2;
        }
    }
}

fn merge(a: &[(f64, usize)], b: &[(f64, usize)]) -> Vec<(f64, usize)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].0 <= b[j].0 {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_a_scan_finds() {
        // A small deterministic cloud, with repeated coordinates.
        let points: Vec<(f64, f64)> = (0..97)
            .map(|i| (f64::from((i * 37) % 23), f64::from((i * 11) % 17)))
            .collect();
        let index = PointIndex::new(&points);
        for (x0, x1, y0, y1) in [
            (0.0, 22.0, 0.0, 16.0),
            (3.0, 7.0, 2.0, 9.0),
            (5.0, 5.0, 0.0, 16.0),
            (-10.0, -1.0, 0.0, 16.0),
            (9.0, 3.0, 0.0, 16.0),
            (0.0, 22.0, 8.0, 8.0),
        ] {
            let scan: Vec<usize> = points
                .iter()
                .enumerate()
                .filter(|&(_, &(x, y))| x >= x0 && x <= x1 && y >= y0 && y <= y1)
                .map(|(i, _)| i)
                .collect();
            assert_eq!(index.inside(x0, x1, y0, y1), scan, "{x0} {x1} {y0} {y1}");
            assert_eq!(index.count(x0, x1, y0, y1), scan.len());
        }
        assert!(PointIndex::new(&[]).inside(0.0, 1.0, 0.0, 1.0).is_empty());
    }
}
