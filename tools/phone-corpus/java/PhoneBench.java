// Single-thread throughput of Google's libphonenumber (Java) over the phone corpus, measured the
// same way as core/benches/phone_corpus.rs so that tools/phone-corpus/bench.sh can compare them:
// read the corpus up front; warm up (here long enough for the JIT); then 7 timed runs, each
// normalising the whole corpus `passes` times (calibrated so that a run lasts about half a
// second); report the median rate.
//
// "Normalising" is what contactsync's normalize() does: parse(input, region); if the number is
// not valid, isPossibleNumberWithReason (for the reason); if it is, format(E164). Inputs over
// 1024 UTF-8 bytes are rejected before parsing.
//
// Usage: java -cp libphonenumber.jar:build PhoneBench tests/vectors/phone_corpus.jsonl
//        (add --list-disagreements to print, instead of timing, the lines where this
//        libphonenumber's verdict differs from the corpus: region, input, corpus, Java)

import com.google.i18n.phonenumbers.NumberParseException;
import com.google.i18n.phonenumbers.PhoneNumberUtil;
import com.google.i18n.phonenumbers.PhoneNumberUtil.PhoneNumberFormat;
import com.google.i18n.phonenumbers.Phonenumber.PhoneNumber;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

public final class PhoneBench {
    private static final int RUNS = 7;
    private static final long TARGET_RUN_NS = 500_000_000L;
    private static final long WARM_UP_NS = 5_000_000_000L;
    private static final int MAX_RAW_LEN = 1024;

    private static final PhoneNumberUtil UTIL = PhoneNumberUtil.getInstance();
    private static long sink;

    private record Case(String region, String input, String expected) {}

    public static void main(String[] args) throws IOException {
        boolean list = args.length == 2 && args[1].equals("--list-disagreements");
        if (args.length != 1 && !list) {
            System.err.println("usage: PhoneBench <phone_corpus.jsonl> [--list-disagreements]");
            System.exit(2);
        }
        List<Case> cases = load(Path.of(args[0]));
        int n = cases.size();

        int agree = 0;
        for (Case c : cases) {
            String got = normalize(c.input(), c.region());
            if (got == null ? c.expected() == null : got.equals(c.expected())) {
                agree++;
            } else if (list) {
                System.out.printf("%s\t%s\t%s\t%s%n", c.region(), c.input(),
                        c.expected() == null ? "rejected" : c.expected(), got == null ? "rejected" : got);
            }
        }
        if (list) {
            return;
        }

        long start = System.nanoTime();
        long onePass = Long.MAX_VALUE;
        while (System.nanoTime() - start < WARM_UP_NS) {
            long t = System.nanoTime();
            pass(cases);
            onePass = Math.min(onePass, System.nanoTime() - t);
        }
        long passes = Math.max(1, (TARGET_RUN_NS + onePass - 1) / Math.max(1, onePass));

        double[] rates = new double[RUNS];
        for (int r = 0; r < RUNS; r++) {
            long t = System.nanoTime();
            for (long p = 0; p < passes; p++) {
                pass(cases);
            }
            rates[r] = (double) n * passes / ((System.nanoTime() - t) / 1e9);
        }
        Arrays.sort(rates);
        double median = rates[RUNS / 2];

        System.out.printf("java phone_corpus: %d inputs, agreement with the corpus oracle %d/%d (%.3f %%)"
                + " (its own metadata version may differ)%n", n, agree, n, 100.0 * agree / n);
        System.out.printf("java phone_corpus: %d runs x %d passes, numbers/s min %.0f median %.0f max %.0f"
                + " (checksum %d)%n", RUNS, passes, rates[0], median, rates[RUNS - 1], sink);
        System.out.printf("RESULT java_numbers_per_sec=%.0f%n", median);
        System.out.printf("RESULT java_best_numbers_per_sec=%.0f%n", rates[RUNS - 1]);
    }

    private static void pass(List<Case> cases) {
        long ok = 0;
        for (int i = 0, size = cases.size(); i < size; i++) {
            Case c = cases.get(i);
            String e164 = normalize(c.input(), c.region());
            if (e164 != null) {
                ok += e164.length();
            }
        }
        sink += ok;
    }

    /** E.164, or null when rejected (the reason is computed, as normalize() does, then dropped). */
    static String normalize(String raw, String region) {
        if (raw.length() > MAX_RAW_LEN / 3 && raw.getBytes(StandardCharsets.UTF_8).length > MAX_RAW_LEN) {
            return null;
        }
        PhoneNumber number;
        try {
            number = UTIL.parse(raw, region);
        } catch (NumberParseException e) {
            sink += e.getErrorType().ordinal();
            return null;
        }
        if (!UTIL.isValidNumber(number)) {
            sink += UTIL.isPossibleNumberWithReason(number).ordinal();
            return null;
        }
        return UTIL.format(number, PhoneNumberFormat.E164);
    }

    // ---- a reader for the corpus's flat JSON objects of strings ------------------------------

    private static List<Case> load(Path path) throws IOException {
        List<Case> cases = new ArrayList<>();
        int lineNo = 0;
        for (String line : Files.readAllLines(path, StandardCharsets.UTF_8)) {
            lineNo++;
            if (line.isBlank()) {
                continue;
            }
            Map<String, String> obj;
            try {
                obj = parseFlatObject(line);
            } catch (IllegalArgumentException e) {
                throw new IOException(path + ":" + lineNo + ": " + e.getMessage(), e);
            }
            String region = obj.get("region");
            String input = obj.get("input");
            if (region == null || input == null || obj.containsKey("e164") == obj.containsKey("error")) {
                throw new IOException(path + ":" + lineNo + ": needs region, input and one of e164 / error");
            }
            cases.add(new Case(region.intern(), input, obj.get("e164")));
        }
        if (cases.isEmpty()) {
            throw new IOException(path + " is empty");
        }
        return cases;
    }

    private static Map<String, String> parseFlatObject(String s) {
        Map<String, String> out = new HashMap<>();
        int[] pos = {skipWs(s, 0)};
        expect(s, pos, '{');
        pos[0] = skipWs(s, pos[0]);
        if (peek(s, pos) == '}') {
            return out;
        }
        while (true) {
            pos[0] = skipWs(s, pos[0]);
            String key = parseString(s, pos);
            pos[0] = skipWs(s, pos[0]);
            expect(s, pos, ':');
            pos[0] = skipWs(s, pos[0]);
            out.put(key, parseString(s, pos));
            pos[0] = skipWs(s, pos[0]);
            char c = peek(s, pos);
            pos[0]++;
            if (c == '}') {
                return out;
            }
            if (c != ',') {
                throw new IllegalArgumentException("expected , or } at " + (pos[0] - 1));
            }
        }
    }

    private static String parseString(String s, int[] pos) {
        expect(s, pos, '"');
        StringBuilder sb = new StringBuilder();
        while (true) {
            char c = peek(s, pos);
            pos[0]++;
            if (c == '"') {
                return sb.toString();
            }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            char e = peek(s, pos);
            pos[0]++;
            switch (e) {
                case '"', '\\', '/' -> sb.append(e);
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> {
                    if (pos[0] + 4 > s.length()) {
                        throw new IllegalArgumentException("short \\u escape");
                    }
                    sb.append((char) Integer.parseInt(s.substring(pos[0], pos[0] + 4), 16));
                    pos[0] += 4;
                }
                default -> throw new IllegalArgumentException("bad escape \\" + e);
            }
        }
    }

    private static char peek(String s, int[] pos) {
        if (pos[0] >= s.length()) {
            throw new IllegalArgumentException("unexpected end of line");
        }
        return s.charAt(pos[0]);
    }

    private static void expect(String s, int[] pos, char c) {
        if (peek(s, pos) != c) {
            throw new IllegalArgumentException("expected " + c + " at " + pos[0]);
        }
        pos[0]++;
    }

    private static int skipWs(String s, int i) {
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
            i++;
        }
        return i;
    }
}
