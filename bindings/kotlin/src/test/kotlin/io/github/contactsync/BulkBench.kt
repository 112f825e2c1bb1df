package io.github.contactsync

import io.github.contactsync.ffi.Config
import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.Engine
import io.github.contactsync.ffi.HashKey
import io.github.contactsync.ffi.IdentifierKind
import io.github.contactsync.ffi.Normalized
import io.github.contactsync.ffi.Normalizer
import io.github.contactsync.ffi.coreVersion
import java.nio.file.Files

/**
 * What a list costs from Kotlin one call per item against one call for the whole list, through
 * the generated bindings and JNA, in the same run: a 1,000-contact screen (`contact` per row
 * against `contactsById`), validating 1,000 values (`normalize` per value, a tenth of them bad,
 * against `normalizeAll`), hashing 1,000 identifiers (`hash` against `hashAll`) and excluding
 * 1,000 contacts (`setContactExcluded` per contact, one transaction each, against
 * `setContactsExcluded`, one transaction).
 *
 * Not a test: run by `scripts/bench.sh` against the release library (`exec:exec@bench-bulk`).
 * Each case is warmed up, then timed [SAMPLES] times; the median of whole-list times is printed.
 */
fun main() {
    val dir = Files.createTempDirectory("contactsync-bulk-bench-")
    val engine = Engine.open(dir.resolve("bench.db").toString(), Config(region = REGION))
    engine.importSnapshot((0 until ITEMS).map { generatedContact(it) }, null)
    val ids = (0 until ITEMS).map(Int::toString)
    val normalizer = Normalizer(REGION)
    val values = (0 until ITEMS).map { if (it % 10 == 0) "12" else "0151 ${20_000_000 + it}" }
    val identifiers = normalizer.normalizeAll(IdentifierKind.PHONE, values)
        .filterIsInstance<Normalized.Valid>().map { it.identifier }
    val key = HashKey("k1", ByteArray(32) { it.toByte() })
    var excluded = false

    println("contactsync ${coreVersion()} list-call benchmark: JVM ${System.getProperty("java.version")}, " +
        "library from ${System.getProperty("jna.library.path")}")
    println("$ITEMS items per list; $WARMUP warm-up runs, then the median of $SAMPLES runs per case")
    println()
    println("%-40s %14s %14s %10s %8s".format("list of $ITEMS", "per item ms", "one call ms", "µs/item", "ratio"))
    var sink = 0L
    val cases = listOf<Triple<String, () -> Int, () -> Int>>(
        Triple(
            "contacts screen: contact / contactsById",
            { ids.sumOf { engine.contact(it)?.identifiers?.size ?: 0 } },
            { engine.contactsById(ids).sumOf { it?.identifiers?.size ?: 0 } },
        ),
        Triple(
            "validation: normalize / normalizeAll",
            {
                values.count {
                    try {
                        normalizer.normalize(IdentifierKind.PHONE, it)
                        true
                    } catch (e: ContactsyncException.InvalidValue) {
                        false
                    }
                }
            },
            { normalizer.normalizeAll(IdentifierKind.PHONE, values).count { it is Normalized.Valid } },
        ),
        Triple(
            "hashing: hash / hashAll",
            { identifiers.sumOf { key.hash(it).length } },
            { key.hashAll(identifiers).sumOf { it.length } },
        ),
        Triple(
            "exclusion: setContactExcluded / ...s",
            {
                excluded = !excluded
                ids.count { engine.setContactExcluded(it, excluded) }
            },
            {
                excluded = !excluded
                engine.setContactsExcluded(ids, excluded).count { it }
            },
        ),
    )
    for ((name, perItem, bulk) in cases) {
        repeat(WARMUP) { sink += perItem() + bulk() }
        // Alternated, so a slow spell of the machine hits both sides alike.
        val single = DoubleArray(SAMPLES)
        val one = DoubleArray(SAMPLES)
        for (i in 0 until SAMPLES) {
            single[i] = timeMs { sink += perItem() }
            one[i] = timeMs { sink += bulk() }
        }
        val s = median(single)
        val b = median(one)
        println("%-40s %14.2f %14.3f %10.2f %7.0fx".format(name, s, b, (s - b) * 1000 / ITEMS, s / b))
    }
    normalizer.close()
    key.close()
    engine.close()
    dir.toFile().deleteRecursively()
    println()
    println("(µs/item: what the per-item calls cost more than the list call, per item; checksum ${sink and 0xffff})")
}

private inline fun timeMs(block: () -> Unit): Double {
    val start = System.nanoTime()
    block()
    return (System.nanoTime() - start) / 1e6
}

private fun median(values: DoubleArray): Double {
    values.sort()
    return (values[values.size / 2 - 1] + values[values.size / 2]) / 2
}

private const val REGION = "DE"
private const val ITEMS = 1_000
private const val WARMUP = 20
private const val SAMPLES = 30
