// A JVM pipeline doing the work of `contactsync import` on a vCard file, as a competent Java
// developer would write it with the usual libraries: the baseline of tools/bench/import-vs-jvm.sh
// (issue 21: the whole-process first import at least 6x faster than this). README.md here says
// what it does and where it differs from the core.
//
//   java -cp /usr/share/java/libphonenumber.jar:/usr/share/java/sqlite-jdbc.jar:build \
//       ImportJvm BOOK.vcf DB.sqlite [--region DE]
//
// Two threads, as in the core: this one reads, parses, normalises and hashes (libphonenumber,
// java.text.Normalizer, java.net.IDN, javax.crypto HMAC-SHA-256, SHA-256 fingerprints) and hands
// encoded contact rows over a bounded queue to a writer thread, which inserts them with one
// prepared statement in JDBC batches inside one transaction (WAL, synchronous=NORMAL, 16 KiB
// pages, the core's two tables), then the distinct identifiers sorted by key, then commits.
// Prints the counts on stdout so that the two pipelines can be checked to do the same work.
//
// One file of about 700 lines on purpose: `javac ImportJvm.java` builds it with no build tool, and a
// reader sees the whole baseline in one place.

import com.google.i18n.phonenumbers.NumberParseException;
import com.google.i18n.phonenumbers.PhoneNumberUtil;
import com.google.i18n.phonenumbers.Phonenumber.PhoneNumber;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.IDN;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public final class ImportJvm {
    // The import bench's key (tests/benches/import.rs, tests/src/bin/bench_book.rs).
    static final String KEY_ID = "bench-key";
    static final byte[] KEY = filled(32, (byte) 0x5a);
    // core/src/hash.rs, core/src/contact.rs, core/src/identifier/*.rs.
    static final String CONTEXT = "contactsync-v1";
    static final String RULES_VERSION = "1";
    static final String METADATA_VERSION = "9.0.42"; // what the core's fingerprint names
    static final int MAX_RAW_LEN = 1024;
    static final int MAX_VALUES_PER_CONTACT = 256;
    static final int PHONE = 1, EMAIL = 2, HANDLE = 3;
    static final String[] KIND_NAMES = {null, "phone", "email", "handle"};
    static final int BATCH = 1000;

    static byte[] filled(int n, byte b) {
        byte[] a = new byte[n];
        Arrays.fill(a, b);
        return a;
    }

    // ---------------------------------------------------------------- the model

    /** A raw value as the file holds it. */
    record Value(int kind, String label, String value) {}

    /** A contact as read from one card. */
    static final class RawContact {
        String sourceId = "", displayName = "", version;
        final List<Value> values = new ArrayList<>(6);
    }

    /** A contact's row, encoded by the normalising thread for the writer. */
    record Row(String sourceId, String displayName, String version, byte[] fingerprint,
               byte[] identifiers, byte[] rejections, int rejected) {}

    static final Row END = new Row(null, null, null, null, null, null, 0);

    /** A distinct identifier: its digest and how many contacts hold it. */
    static final class Ident {
        final int kind;
        final String canonical;
        final byte[] digest;
        int holders;

        Ident(int kind, String canonical, byte[] digest) {
            this.kind = kind;
            this.canonical = canonical;
            this.digest = digest;
        }
    }

    // ---------------------------------------------------------------- main

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: ImportJvm BOOK.vcf DB.sqlite [--region DE]");
            System.exit(2);
        }
        String region = "DE";
        for (int i = 2; i + 1 < args.length; i++) {
            if (args[i].equals("--region")) region = args[i + 1];
        }
        long start = System.nanoTime();
        ImportJvm job = new ImportJvm(region);
        BlockingQueue<Row> queue = new ArrayBlockingQueue<>(4096);
        Writer writer = new Writer(args[1], queue);
        Thread writerThread = new Thread(writer, "writer");
        writerThread.start();
        try (BufferedReader in = Files.newBufferedReader(Paths.get(args[0]), StandardCharsets.UTF_8)) {
            VCardReader cards = new VCardReader(in);
            RawContact c;
            while ((c = cards.next()) != null) {
                queue.put(job.prepare(c));
            }
            job.broken = cards.broken;
        } finally {
            queue.put(END);
        }
        // The identifier rows go last, sorted by key, in the same transaction.
        List<Ident> idents = new ArrayList<>(job.identifiers.values());
        idents.sort((a, b) -> a.kind != b.kind ? Integer.compare(a.kind, b.kind)
                : compareUtf8(a.canonical, b.canonical));
        writer.identifiers = idents;
        synchronized (writer) {
            writer.identifiersReady = true;
            writer.notifyAll();
        }
        writerThread.join();
        if (writer.failure != null) throw writer.failure;
        long elapsed = System.nanoTime() - start;

        int[] perKind = new int[4];
        for (Ident id : idents) perKind[id.kind]++;
        System.out.printf(Locale.ROOT,
                "contacts %d, values %d, rejected %d, broken %d, distinct identifiers %d"
                        + " (phone %d, email %d, handle %d)%n",
                job.contacts, job.values, job.rejected, job.broken, idents.size(),
                perKind[PHONE], perKind[EMAIL], perKind[HANDLE]);
        System.out.printf(Locale.ROOT, "rows: contacts %d, identifiers %d; %.0f ms in main%n",
                writer.contactRows, writer.identifierRows, elapsed / 1e6);
    }

    // ---------------------------------------------------------------- normalise + hash

    final String region;
    final PhoneNumberUtil phones = PhoneNumberUtil.getInstance();
    final Mac mac;
    final MessageDigest sha256;
    final Map<String, Ident> identifiers = new HashMap<>(1 << 19);
    long contacts, values, rejected, broken;

    ImportJvm(String region) throws Exception {
        this.region = region;
        mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(KEY, "HmacSHA256"));
        sha256 = MessageDigest.getInstance("SHA-256");
    }

    /** Normalises a contact, hashes its new identifiers, counts holders, encodes its row. */
    Row prepare(RawContact c) {
        contacts++;
        values += c.values.size();
        List<Ident> ids = new ArrayList<>(c.values.size());
        ByteArrayOutputStream rejections = new ByteArrayOutputStream();
        int rejectedHere = 0;
        for (int i = 0; i < c.values.size(); i++) {
            Value v = c.values.get(i);
            String canonical;
            String reason;
            try {
                if (i >= MAX_VALUES_PER_CONTACT) throw new Rejected("too_many_values");
                canonical = switch (v.kind) {
                    case PHONE -> phone(v.value);
                    case EMAIL -> email(v.value);
                    default -> handle(v.value);
                };
                reason = null;
            } catch (Rejected r) {
                canonical = null;
                reason = r.getMessage();
            }
            if (canonical == null) {
                rejectedHere++;
                rejections.write(v.kind);
                if (v.label == null) {
                    rejections.write(0);
                } else {
                    rejections.write(1);
                    putStr(rejections, v.label);
                }
                putStr(rejections, v.value.length() > MAX_RAW_LEN ? v.value.substring(0, MAX_RAW_LEN) : v.value);
                putStr(rejections, reason);
                continue;
            }
            String key = v.kind + "\0" + canonical;
            Ident id = identifiers.get(key);
            if (id == null) {
                id = new Ident(v.kind, canonical, hash(v.kind, canonical));
                identifiers.put(key, id);
            }
            if (!ids.contains(id)) {
                ids.add(id);
                id.holders++;
            }
        }
        rejected += rejectedHere;
        ids.sort((a, b) -> a.kind != b.kind ? Integer.compare(a.kind, b.kind)
                : compareUtf8(a.canonical, b.canonical));
        ByteArrayOutputStream idBlob = new ByteArrayOutputStream(ids.size() * 24);
        for (Ident id : ids) {
            idBlob.write(id.kind);
            putStr(idBlob, id.canonical);
        }
        return new Row(c.sourceId, c.displayName, c.version, fingerprint(c), idBlob.toByteArray(),
                rejectedHere == 0 ? null : rejections.toByteArray(), rejectedHere);
    }

    /** HMAC-SHA-256(key, "contactsync-v1" 0 kind 0 canonical), first 16 bytes. */
    byte[] hash(int kind, String canonical) {
        mac.update(CONTEXT.getBytes(StandardCharsets.UTF_8));
        mac.update((byte) 0);
        mac.update(KIND_NAMES[kind].getBytes(StandardCharsets.UTF_8));
        mac.update((byte) 0);
        mac.update(canonical.getBytes(StandardCharsets.UTF_8));
        return Arrays.copyOf(mac.doFinal(), 16);
    }

    /** The core's content fingerprint: SHA-256 of length-prefixed fields, first 16 bytes. */
    byte[] fingerprint(RawContact c) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(256);
        for (String part : new String[] {"contactsync-raw-v1", RULES_VERSION, METADATA_VERSION, region,
                c.displayName}) {
            field(buf, part);
        }
        for (Value v : c.values) {
            field(buf, KIND_NAMES[v.kind]);
            field(buf, v.label == null ? "" : v.label);
            field(buf, v.value);
        }
        return Arrays.copyOf(sha256.digest(buf.toByteArray()), 16);
    }

    static void field(ByteArrayOutputStream buf, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        long n = b.length;
        for (int i = 0; i < 8; i++) buf.write((int) (n >>> (8 * i)));
        buf.write(b, 0, b.length);
    }

    static void putStr(ByteArrayOutputStream out, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        int n = b.length;
        for (int i = 0; i < 4; i++) out.write(n >>> (8 * i));
        out.write(b, 0, b.length);
    }

    /** Byte order of the UTF-8 encodings, as SQLite's BINARY collation sorts TEXT. */
    static int compareUtf8(String a, String b) {
        int n = Math.min(a.length(), b.length());
        for (int i = 0; i < n; i++) {
            char x = a.charAt(i), y = b.charAt(i);
            if (x != y) {
                // Surrogates (code points above U+FFFF) sort after U+E000..U+FFFF in UTF-8.
                boolean sx = Character.isSurrogate(x), sy = Character.isSurrogate(y);
                if (sx != sy) return sx ? 1 : -1;
                return Character.compare(x, y);
            }
        }
        return Integer.compare(a.length(), b.length());
    }

    static final class Rejected extends Exception {
        private static final long serialVersionUID = 1L;

        Rejected(String code) {
            super(code, null, false, false);
        }
    }

    /** core/src/identifier/phone.rs: parse in the default region, valid, E.164. */
    String phone(String raw) throws Rejected {
        if (utf8Length(raw) > MAX_RAW_LEN) throw new Rejected("phone.input_too_long");
        int context = raw.indexOf(";phone-context=");
        if (context >= 0 && raw.indexOf("tel:") > context) throw new Rejected("phone.not_a_number");
        PhoneNumber number;
        try {
            number = phones.parse(raw, region);
        } catch (NumberParseException e) {
            throw new Rejected(switch (e.getErrorType()) {
                case INVALID_COUNTRY_CODE -> "phone.invalid_country_code";
                case TOO_SHORT_AFTER_IDD, TOO_SHORT_NSN -> "phone.too_short";
                case TOO_LONG -> "phone.too_long";
                default -> "phone.not_a_number";
            });
        }
        if (!phones.isValidNumber(number)) {
            throw new Rejected(switch (phones.isPossibleNumberWithReason(number)) {
                case IS_POSSIBLE, IS_POSSIBLE_LOCAL_ONLY -> "phone.unassigned";
                case INVALID_COUNTRY_CODE -> "phone.invalid_country_code";
                case TOO_SHORT -> "phone.too_short";
                case TOO_LONG -> "phone.too_long";
                case INVALID_LENGTH -> "phone.invalid_length";
            });
        }
        return phones.format(number, PhoneNumberUtil.PhoneNumberFormat.E164);
    }

    /** core/src/identifier/email.rs; IDNA through java.net.IDN (IDNA 2003, see README). */
    static String email(String raw) throws Rejected {
        if (utf8Length(raw) > MAX_RAW_LEN) throw new Rejected("email.too_long");
        String s = raw.strip();
        if (s.regionMatches(true, 0, "mailto:", 0, 7)) {
            s = s.substring(7).stripLeading();
            int q = s.indexOf('?');
            if (q >= 0) s = s.substring(0, q);
        }
        if (s.isEmpty()) throw new Rejected("email.empty");
        int at = s.lastIndexOf('@');
        if (at < 0) throw new Rejected("email.syntax");
        String local = s.substring(0, at), domain = s.substring(at + 1);
        if (local.isEmpty() || domain.isEmpty()) throw new Rejected("email.syntax");
        if (local.startsWith("\"")) throw new Rejected("email.quoted_local_part");
        local = Normalizer.normalize(local, Normalizer.Form.NFC);
        if (!validLocalPart(local)) throw new Rejected("email.invalid_local_part");
        if (utf8Length(local) > 64) throw new Rejected("email.too_long");
        String ascii = domain(domain);
        String out = local.toLowerCase(Locale.ROOT) + "@" + ascii;
        if (utf8Length(out) > 254) throw new Rejected("email.too_long");
        return out;
    }

    static boolean validLocalPart(String local) {
        for (String atom : local.split("\\.", -1)) {
            if (atom.isEmpty()) return false;
            for (int i = 0; i < atom.length(); ) {
                int c = atom.codePointAt(i);
                i += Character.charCount(c);
                boolean ok = c < 128
                        ? (Character.isLetterOrDigit(c) || "!#$%&'*+-/=?^_`{|}~".indexOf(c) >= 0)
                        : !Character.isISOControl(c) && !Character.isWhitespace(c);
                if (!ok) return false;
            }
        }
        return true;
    }

    static String domain(String domain) throws Rejected {
        if (domain.endsWith(".")) domain = domain.substring(0, domain.length() - 1);
        if (domain.startsWith("[")) throw new Rejected("email.invalid_domain");
        String ascii;
        try {
            ascii = IDN.toASCII(domain, IDN.USE_STD3_ASCII_RULES).toLowerCase(Locale.ROOT);
        } catch (IllegalArgumentException e) {
            throw new Rejected("email.invalid_domain");
        }
        String[] labels = ascii.split("\\.", -1);
        if (labels.length < 2) throw new Rejected("email.invalid_domain");
        for (String l : labels) {
            if (l.isEmpty() || l.length() > 63 || l.startsWith("-") || l.endsWith("-")) {
                throw new Rejected("email.invalid_domain");
            }
            for (int i = 0; i < l.length(); i++) {
                char c = l.charAt(i);
                if (!(c < 128 && (Character.isLetterOrDigit(c) || c == '-'))) {
                    throw new Rejected("email.invalid_domain");
                }
            }
        }
        if (labels[labels.length - 1].chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new Rejected("email.invalid_domain");
        }
        return ascii;
    }

    /** core/src/identifier/handle.rs; case folding approximated (see README). */
    static String handle(String raw) throws Rejected {
        if (utf8Length(raw) > MAX_RAW_LEN) throw new Rejected("handle.too_long");
        String folded = Normalizer.normalize(raw.strip(), Normalizer.Form.NFKC);
        folded = folded.toLowerCase(Locale.ROOT).replace("ß", "ss").replace('ς', 'σ');
        folded = Normalizer.normalize(folded, Normalizer.Form.NFKC);
        String h = folded.startsWith("@") ? folded.substring(1) : folded;
        if (h.isEmpty()) throw new Rejected("handle.empty");
        int chars = 0, last = h.codePointCount(0, h.length()) - 1;
        boolean alnum = false;
        for (int i = 0; i < h.length(); ) {
            int c = h.codePointAt(i);
            i += Character.charCount(c);
            if (Character.isLetterOrDigit(c) || Character.isAlphabetic(c)) {
                alnum = true;
            } else {
                int type = Character.getType(c);
                boolean mark = type == Character.NON_SPACING_MARK
                        || type == Character.COMBINING_SPACING_MARK || type == Character.ENCLOSING_MARK;
                if (!(c == '_' || c == '.' || c == '-' || (c == '@' && chars != 0 && chars != last) || mark)) {
                    throw new Rejected("handle.invalid_character");
                }
            }
            chars++;
        }
        if (!alnum) throw new Rejected("handle.no_alphanumeric");
        if (chars > 64) throw new Rejected("handle.too_long");
        return h;
    }

    static int utf8Length(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) n += 1;
            else if (c < 0x800) n += 2;
            else if (Character.isHighSurrogate(c)) { n += 4; i++; }
            else n += 3;
        }
        return n;
    }

    // ---------------------------------------------------------------- vCard

    /**
     * A streaming vCard 2.1/3.0/4.0 reader for what the book holds: unfolds lines, splits group,
     * name, parameters and value, unescapes text, and maps TEL, EMAIL and IMPP with their labels
     * (TYPE, Apple's itemN.X-ABLabel, X-SERVICE-TYPE), UID, FN and REV.
     */
    static final class VCardReader {
        final BufferedReader in;
        String pending;
        long broken;

        VCardReader(BufferedReader in) {
            this.in = in;
        }

        /** The next logical (unfolded) line, or null at the end. */
        String line() throws IOException {
            String line = pending != null ? pending : in.readLine();
            pending = null;
            if (line == null) return null;
            String next;
            StringBuilder sb = null;
            while ((next = in.readLine()) != null && !next.isEmpty()
                    && (next.charAt(0) == ' ' || next.charAt(0) == '\t')) {
                if (sb == null) sb = new StringBuilder(line);
                sb.append(next, 1, next.length());
            }
            pending = next;
            return sb == null ? line : sb.toString();
        }

        RawContact next() throws IOException {
            String line;
            while ((line = line()) != null && !line.regionMatches(true, 0, "BEGIN:VCARD", 0, 11)) {
                // Between cards: nothing to read.
            }
            if (line == null) return null;
            RawContact c = new RawContact();
            // itemN -> its X-ABLabel, and the values waiting for one.
            Map<String, String> groupLabels = null;
            List<Object[]> grouped = null;
            String name = null;
            while ((line = line()) != null) {
                int colon = valueStart(line);
                if (colon < 0) continue;
                String head = line.substring(0, colon), value = line.substring(colon + 1);
                String[] params = head.split(";");
                String prop = params[0];
                String group = null;
                int dot = prop.indexOf('.');
                if (dot >= 0) {
                    group = prop.substring(0, dot).toLowerCase(Locale.ROOT);
                    prop = prop.substring(dot + 1);
                }
                prop = prop.toUpperCase(Locale.ROOT);
                if (prop.equals("END")) break;
                switch (prop) {
                    case "UID" -> c.sourceId = unescape(value).strip();
                    case "FN" -> c.displayName = unescape(value).strip();
                    case "N" -> name = value;
                    case "REV" -> c.version = unescape(value).strip();
                    case "TEL", "EMAIL", "IMPP" -> {
                        String v = unescape(value).strip();
                        if (v.isEmpty()) continue;
                        int kind = prop.equals("TEL") ? PHONE : prop.equals("EMAIL") ? EMAIL : HANDLE;
                        String label = null;
                        if (kind == HANDLE) {
                            int sep = v.indexOf(':');
                            String scheme = sep > 0 ? v.substring(0, sep).toLowerCase(Locale.ROOT) : null;
                            if (sep > 0) v = v.substring(sep + 1).strip();
                            if (v.isEmpty()) continue;
                            label = param(params, "X-SERVICE-TYPE");
                            label = label != null ? label.toLowerCase(Locale.ROOT) : scheme;
                        } else {
                            label = types(params);
                        }
                        Value val = new Value(kind, label, v);
                        if (group != null) {
                            if (grouped == null) grouped = new ArrayList<>();
                            grouped.add(new Object[] {group, c.values.size()});
                        }
                        c.values.add(val);
                    }
                    case "X-ABLABEL" -> {
                        if (group != null) {
                            if (groupLabels == null) groupLabels = new HashMap<>();
                            String l = unescape(value).strip();
                            if (l.startsWith("_$!<") && l.endsWith(">!$_")) l = l.substring(4, l.length() - 4);
                            groupLabels.put(group, l.toLowerCase(Locale.ROOT));
                        }
                    }
                    default -> { }
                }
            }
            if (grouped != null && groupLabels != null) {
                for (Object[] g : grouped) {
                    String l = groupLabels.get((String) g[0]);
                    int i = (Integer) g[1];
                    if (l != null) {
                        Value v = c.values.get(i);
                        c.values.set(i, new Value(v.kind, l, v.value));
                    }
                }
            }
            if (c.displayName.isEmpty() && name != null) {
                c.displayName = unescape(name.replace(';', ' ')).strip();
            }
            if (c.sourceId.isEmpty()) broken++;
            return c;
        }

        /** Index of the colon that ends the property's head (not one inside a quoted parameter). */
        static int valueStart(String line) {
            boolean quoted = false;
            for (int i = 0; i < line.length(); i++) {
                char ch = line.charAt(i);
                if (ch == '"') quoted = !quoted;
                else if (ch == ':' && !quoted) return i;
            }
            return -1;
        }

        static String param(String[] params, String name) {
            for (int i = 1; i < params.length; i++) {
                int eq = params[i].indexOf('=');
                if (eq > 0 && params[i].substring(0, eq).equalsIgnoreCase(name)) {
                    return params[i].substring(eq + 1).strip();
                }
            }
            return null;
        }

        /** TYPE values, lower-case, without pref/voice/internet; `cell` read as `mobile`. */
        static String types(String[] params) {
            StringBuilder out = null;
            for (int i = 1; i < params.length; i++) {
                String p = params[i];
                int eq = p.indexOf('=');
                String v;
                if (eq < 0) v = p; // vCard 2.1: bare `;CELL`
                else if (p.substring(0, eq).equalsIgnoreCase("TYPE")) v = p.substring(eq + 1);
                else continue;
                for (String t : v.toLowerCase(Locale.ROOT).split(",")) {
                    t = t.strip().replace("\"", "");
                    if (t.equals("cell")) t = "mobile";
                    if (t.isEmpty() || t.equals("pref") || t.equals("voice") || t.equals("internet")) continue;
                    if (out == null) out = new StringBuilder(t);
                    else out.append(',').append(t);
                }
            }
            return out == null ? null : out.toString();
        }

        static String unescape(String s) {
            if (s.indexOf('\\') < 0) return s;
            StringBuilder sb = new StringBuilder(s.length());
            for (int i = 0; i < s.length(); i++) {
                char ch = s.charAt(i);
                if (ch == '\\' && i + 1 < s.length()) {
                    char n = s.charAt(++i);
                    sb.append(n == 'n' || n == 'N' ? '\n' : n);
                } else {
                    sb.append(ch);
                }
            }
            return sb.toString();
        }
    }

    // ---------------------------------------------------------------- SQLite

    /** The writer thread: contact rows as they come, then the identifier rows; one transaction. */
    static final class Writer implements Runnable {
        final String path;
        final BlockingQueue<Row> queue;
        volatile List<Ident> identifiers;
        boolean identifiersReady;
        volatile Exception failure;
        long contactRows, identifierRows;

        Writer(String path, BlockingQueue<Row> queue) {
            this.path = path;
            this.queue = queue;
        }

        @Override
        public void run() {
            try {
                write();
            } catch (Exception e) {
                failure = e;
                // Keep draining so the reader never blocks on a full queue.
                try {
                    while (queue.take() != END) { }
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        void write() throws Exception {
            try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + path)) {
                try (Statement s = db.createStatement()) {
                    s.execute("PRAGMA page_size = 16384");
                    s.execute("PRAGMA journal_mode = WAL");
                    s.execute("PRAGMA synchronous = NORMAL");
                    s.execute("PRAGMA temp_store = MEMORY");
                    s.execute("PRAGMA cache_size = -4096");
                    // The core's two tables (core/src/store/schema.rs).
                    s.execute("CREATE TABLE IF NOT EXISTS contacts (source_id TEXT NOT NULL PRIMARY KEY,"
                            + " display_name TEXT NOT NULL, version TEXT, fingerprint BLOB NOT NULL,"
                            + " generation INTEGER NOT NULL, excluded INTEGER NOT NULL DEFAULT 0,"
                            + " identifiers BLOB NOT NULL, rejections BLOB,"
                            + " rejected INTEGER NOT NULL DEFAULT 0) STRICT, WITHOUT ROWID");
                    s.execute("CREATE TABLE IF NOT EXISTS identifiers (kind INTEGER NOT NULL,"
                            + " canonical TEXT NOT NULL, holders INTEGER NOT NULL, included INTEGER NOT NULL,"
                            + " excluded INTEGER NOT NULL DEFAULT 0, key_id TEXT, digest BLOB,"
                            + " state INTEGER NOT NULL, batch_id TEXT, PRIMARY KEY (kind, canonical))"
                            + " STRICT, WITHOUT ROWID");
                }
                db.setAutoCommit(false);
                try (PreparedStatement ins = db.prepareStatement(
                        "INSERT INTO contacts (source_id, display_name, version, fingerprint, generation,"
                                + " identifiers, rejections, rejected) VALUES (?, ?, ?, ?, 1, ?, ?, ?)")) {
                    int pending = 0;
                    Row r;
                    while ((r = queue.take()) != END) {
                        ins.setString(1, r.sourceId);
                        ins.setString(2, r.displayName);
                        ins.setString(3, r.version);
                        ins.setBytes(4, r.fingerprint);
                        ins.setBytes(5, r.identifiers);
                        ins.setBytes(6, r.rejections);
                        ins.setInt(7, r.rejected);
                        ins.addBatch();
                        if (++pending == BATCH) {
                            ins.executeBatch();
                            contactRows += pending;
                            pending = 0;
                        }
                    }
                    ins.executeBatch();
                    contactRows += pending;
                }
                synchronized (this) {
                    while (!identifiersReady) wait();
                }
                try (PreparedStatement ins = db.prepareStatement(
                        "INSERT INTO identifiers (kind, canonical, holders, included, key_id, digest, state)"
                                + " VALUES (?, ?, ?, ?, ?, ?, 1)")) {
                    int pending = 0;
                    for (Ident id : identifiers) {
                        ins.setInt(1, id.kind);
                        ins.setString(2, id.canonical);
                        ins.setInt(3, id.holders);
                        ins.setInt(4, id.holders);
                        ins.setString(5, KEY_ID);
                        ins.setBytes(6, id.digest);
                        ins.addBatch();
                        if (++pending == BATCH) {
                            ins.executeBatch();
                            identifierRows += pending;
                            pending = 0;
                        }
                    }
                    ins.executeBatch();
                    identifierRows += pending;
                }
                db.commit();
                try (Statement s = db.createStatement();
                     ResultSet rs = s.executeQuery("PRAGMA wal_checkpoint(PASSIVE)")) {
                    rs.next();
                }
            }
        }
    }
}
