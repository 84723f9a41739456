//! Aligned tables as Docker and compose print them: Go's `text/tabwriter` with a padding of 3,
//! each column as wide as its widest cell plus the padding and at least a minimum, the last
//! column unpadded.

/// Docker CLI's tables (`ps`): columns at least 10 wide.
pub const DOCKER_MIN_WIDTH: usize = 10;
/// Compose's own tables (`images`, `ls`: `formatter.PrintPrettySection`): at least 20 wide.
pub const COMPOSE_MIN_WIDTH: usize = 20;
const PADDING: usize = 3;

/// `rows` (the header first) as lines, columns aligned, each at least `min_width` wide.
pub fn render<S: AsRef<str>>(min_width: usize, rows: &[Vec<S>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns.saturating_sub(1))
        .map(|i| rows.iter().filter_map(|r| r.get(i)).map(|c| c.as_ref().chars().count() + PADDING).max().unwrap_or(0).max(min_width))
        .collect();
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let cell = cell.as_ref();
            match widths.get(i) {
                Some(&w) if i + 1 < row.len() => out.push_str(&format!("{cell:<w$}")),
                _ => out.push_str(cell),
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_as_tabwriter_pads_them() {
        let rows = vec![vec!["NAME", "IMAGE", "STATUS"], vec!["p-web-1", "busybox:latest-and-more", "Up"]];
        assert_eq!(
            render(DOCKER_MIN_WIDTH, &rows),
            "NAME      IMAGE                     STATUS\np-web-1   busybox:latest-and-more   Up\n"
        );
        assert_eq!(render(COMPOSE_MIN_WIDTH, &[vec!["A", "B"]]), format!("{:<20}B\n", "A"));
    }
}
