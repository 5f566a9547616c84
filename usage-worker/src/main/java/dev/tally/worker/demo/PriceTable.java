package dev.tally.worker.demo;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The demo's price list: US dollars per million input and output tokens for each model. The
 * models and prices are made up for the demo, in the range LLM APIs charge.
 *
 * <p>Thread-safe: immutable.
 */
public final class PriceTable {
    /** Price of one model, per million tokens. */
    public record Price(BigDecimal inputPerMillion, BigDecimal outputPerMillion) {
    }

    private static final BigDecimal MILLION = BigDecimal.valueOf(1_000_000);
    private final Map<String, Price> prices;

    private PriceTable(Map<String, Price> prices) {
        this.prices = Map.copyOf(prices);
    }

    /** The built-in price list. */
    public static PriceTable builtIn() {
        Map<String, Price> m = new LinkedHashMap<>();
        m.put("atlas-large", new Price(new BigDecimal("3.00"), new BigDecimal("15.00")));
        m.put("atlas-mini", new Price(new BigDecimal("0.15"), new BigDecimal("0.60")));
        m.put("nimbus-70b", new Price(new BigDecimal("0.90"), new BigDecimal("0.90")));
        m.put("nimbus-8b", new Price(new BigDecimal("0.10"), new BigDecimal("0.10")));
        m.put("orca-embed", new Price(new BigDecimal("0.02"), BigDecimal.ZERO));
        return new PriceTable(m);
    }

    public Price price(String model) {
        Price p = prices.get(model);
        if (p == null) {
            throw new IllegalArgumentException("no price for model '" + model + "'");
        }
        return p;
    }

    public boolean has(String model) {
        return prices.containsKey(model);
    }

    /** The exact cost of {@code input} and {@code output} tokens of {@code model}, in dollars. */
    public BigDecimal cost(String model, BigDecimal input, BigDecimal output) {
        Price p = price(model);
        return input.multiply(p.inputPerMillion()).add(output.multiply(p.outputPerMillion()))
                .divide(MILLION, 12, RoundingMode.UNNECESSARY).stripTrailingZeros();
    }

    /** Rounds a dollar amount to cents, half up, as an invoice shows it. */
    public static BigDecimal cents(BigDecimal dollars) {
        return dollars.setScale(2, RoundingMode.HALF_UP);
    }
}
