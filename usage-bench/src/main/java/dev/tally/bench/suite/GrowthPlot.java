package dev.tally.bench.suite;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.Stroke;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import javax.imageio.ImageIO;

/**
 * The growth plot, drawn with java.awt (headless) and written with ImageIO: on the left the
 * ingest rate of each system against events stored, on the right the p50 latency of each billing
 * query against events stored (both axes of the right panel logarithmic).
 */
final class GrowthPlot {
    private static final int W = 1400;
    private static final int H = 560;
    private static final Color[] SYSTEM = {new Color(0x1f77b4), new Color(0x7f7f7f), new Color(0xd62728)};
    private static final Color[] QUERY = {new Color(0x1f77b4), new Color(0x2ca02c), new Color(0x9467bd), new Color(0xff7f0e)};

    private GrowthPlot() {
    }

    record Series(String label, Color color, boolean dashed, TreeMap<Double, Double> points) {
    }

    static void draw(Map<String, String> r, List<Long> sizes, Path png) throws IOException {
        System.setProperty("java.awt.headless", "true");
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, W, H);

        // Left: ingest rate of the largest run of each system.
        List<Series> left = new ArrayList<>();
        String[] systems = {"store", "raw", "pg"};
        for (int i = 0; i < systems.length; i++) {
            TreeMap<Double, Double> pts = new TreeMap<>();
            for (int s = sizes.size() - 1; s >= 0 && pts.isEmpty(); s--) {
                String prefix = "growth." + systems[i] + "." + sizes.get(s) + ".rate_at.";
                for (var e : r.entrySet()) {
                    if (e.getKey().startsWith(prefix)) {
                        pts.put(Double.parseDouble(e.getKey().substring(prefix.length())), Double.parseDouble(e.getValue()));
                    }
                }
            }
            left.add(new Series(Fmt.name(systems[i]), SYSTEM[i], false, pts));
        }
        panel(g, 70, 50, 560, 420, "Ingest rate as stored data grows", "events stored", "events/s", left, false, false);

        // Right: p50 of each query against stored events.
        List<Series> right = new ArrayList<>();
        Billing.Query[] qs = Billing.Query.values();
        for (int i = 0; i < qs.length; i++) {
            TreeMap<Double, Double> tally = new TreeMap<>();
            TreeMap<Double, Double> pg = new TreeMap<>();
            for (long n : sizes) {
                put(tally, n, r.get("query.store." + n + "." + qs[i].key + ".p50_ms"));
                put(pg, n, r.get("query.pg." + n + "." + qs[i].key + ".p50_ms"));
                for (long c : Suite.checkpoints(n)) {
                    put(tally, c, r.get("growth.store." + n + ".at." + c + "." + qs[i].key + ".p50_ms"));
                }
            }
            right.add(new Series("Tally " + qs[i].key, QUERY[i], false, tally));
            right.add(new Series("PostgreSQL " + qs[i].key, QUERY[i], true, pg));
        }
        panel(g, 780, 50, 560, 420, "Query latency (p50) as stored data grows", "events stored", "ms", right, true, true);

        g.setColor(Color.DARK_GRAY);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.drawString("One run of bench/all, " + r.getOrDefault("run.date", "") + "; solid: Tally (or as named), "
                + "dashed: PostgreSQL", 70, H - 12);
        g.dispose();
        ImageIO.write(img, "png", png.toFile());
    }

    private static void put(TreeMap<Double, Double> m, long at, String v) {
        if (v != null) {
            try {
                double d = Double.parseDouble(v);
                if (!Double.isNaN(d) && d > 0) {
                    m.put((double) at, d);
                }
            } catch (NumberFormatException ignored) {
                // not a figure
            }
        }
    }

    private static void panel(Graphics2D g, int x0, int y0, int w, int h, String title, String xLabel, String yLabel,
            List<Series> series, boolean logY, boolean points) {
        double minX = Double.MAX_VALUE;
        double maxX = 0;
        double minY = Double.MAX_VALUE;
        double maxY = 0;
        for (Series s : series) {
            for (var e : s.points().entrySet()) {
                minX = Math.min(minX, e.getKey());
                maxX = Math.max(maxX, e.getKey());
                minY = Math.min(minY, e.getValue());
                maxY = Math.max(maxY, e.getValue());
            }
        }
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        g.drawString(title, x0, y0 - 20);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.drawRect(x0, y0, w, h);
        if (maxX == 0) {
            g.drawString("no data", x0 + w / 2 - 20, y0 + h / 2);
            return;
        }
        // x: log10, whole decades around the data
        double lx0 = Math.floor(Math.log10(minX));
        double lx1 = Math.ceil(Math.log10(maxX));
        if (lx1 <= lx0) {
            lx1 = lx0 + 1;
        }
        double ly0;
        double ly1;
        if (logY) {
            ly0 = Math.floor(Math.log10(minY));
            ly1 = Math.ceil(Math.log10(maxY));
            if (ly1 <= ly0) {
                ly1 = ly0 + 1;
            }
        } else {
            ly0 = 0;
            ly1 = niceCeil(maxY * 1.1);
        }
        final double fx0 = lx0;
        final double fx1 = lx1;
        final double fy0 = ly0;
        final double fy1 = ly1;
        java.util.function.DoubleUnaryOperator px = v -> x0 + (Math.log10(v) - fx0) / (fx1 - fx0) * w;
        java.util.function.DoubleUnaryOperator py = v -> y0 + h - ((logY ? Math.log10(v) : v) - fy0) / (fy1 - fy0) * h;

        FontMetrics fm = g.getFontMetrics();
        Stroke grid = new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 1f, new float[] {2f, 3f}, 0f);
        for (double d = lx0; d <= lx1 + 1e-9; d++) {
            int x = (int) px.applyAsDouble(Math.pow(10, d));
            g.setColor(new Color(0xdddddd));
            g.setStroke(grid);
            g.drawLine(x, y0, x, y0 + h);
            g.setColor(Color.BLACK);
            g.setStroke(new BasicStroke(1f));
            String l = label(Math.pow(10, d));
            g.drawString(l, x - fm.stringWidth(l) / 2, y0 + h + 16);
        }
        int ticks = 5;
        for (int i = 0; i <= (logY ? (int) (ly1 - ly0) : ticks); i++) {
            double v = logY ? Math.pow(10, ly0 + i) : ly1 * i / ticks;
            int y = (int) py.applyAsDouble(logY ? v : Math.max(v, 0));
            g.setColor(new Color(0xdddddd));
            g.setStroke(grid);
            g.drawLine(x0, y, x0 + w, y);
            g.setColor(Color.BLACK);
            g.setStroke(new BasicStroke(1f));
            String l = logY ? label(v) : String.format(Locale.ROOT, "%,.0f", v);
            g.drawString(l, x0 - fm.stringWidth(l) - 6, y + 4);
        }
        g.drawString(xLabel, x0 + w / 2 - fm.stringWidth(xLabel) / 2, y0 + h + 34);
        g.drawString(yLabel, x0, y0 - 4);

        int legendY = y0 + 16;
        for (Series s : series) {
            if (s.points().isEmpty()) {
                continue;
            }
            g.setColor(s.color());
            g.setStroke(s.dashed()
                    ? new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 1f, new float[] {7f, 5f}, 0f)
                    : new BasicStroke(2f));
            int[] prev = null;
            for (var e : s.points().entrySet()) {
                int x = (int) px.applyAsDouble(e.getKey());
                int y = (int) py.applyAsDouble(e.getValue());
                if (prev != null) {
                    g.drawLine(prev[0], prev[1], x, y);
                }
                if (points || s.points().size() == 1) {
                    g.fillOval(x - 4, y - 4, 8, 8);
                }
                prev = new int[] {x, y};
            }
            g.drawLine(x0 + w - 200, legendY - 4, x0 + w - 175, legendY - 4);
            g.setStroke(new BasicStroke(1f));
            g.setColor(Color.BLACK);
            g.drawString(s.label(), x0 + w - 170, legendY);
            legendY += 16;
        }
    }

    private static String label(double v) {
        if (v >= 1e6) {
            return String.format(Locale.ROOT, "%.0fM", v / 1e6);
        }
        if (v >= 1e3) {
            return String.format(Locale.ROOT, "%.0fk", v / 1e3);
        }
        if (v >= 1) {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        return String.format(Locale.ROOT, "%.2g", v);
    }

    private static double niceCeil(double v) {
        if (v <= 0) {
            return 1;
        }
        double p = Math.pow(10, Math.floor(Math.log10(v)));
        for (double m : new double[] {1, 2, 2.5, 5, 10}) {
            if (m * p >= v) {
                return m * p;
            }
        }
        return 10 * p;
    }
}
