package io.github.contactsync

import io.github.contactsync.ffi.Config
import io.github.contactsync.ffi.ContactView
import io.github.contactsync.ffi.ContactsyncException
import io.github.contactsync.ffi.Engine
import io.github.contactsync.ffi.HashKey
import io.github.contactsync.ffi.IdentifierKind
import io.github.contactsync.ffi.Normalizer
import io.github.contactsync.ffi.RawContact
import io.github.contactsync.ffi.Status
import io.github.contactsync.ffi.SyncOptions
import java.nio.file.Path
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.concurrent.thread
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import kotlin.test.fail
import okhttp3.OkHttpClient
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/**
 * Eight threads on one engine and one set of shared objects: one applies change feeds while
 * seven normalise, hash, and read status, matches and contact pages, all started together.
 *
 * What they see is checked against a second engine that went through the same history on one
 * thread: every status, match list and contact a reader sees must be one the single-threaded
 * engine passed through (each read is a consistent snapshot, never half a change feed), every
 * normalised value and hash must equal the single-threaded answer, and the final state must
 * equal the single-threaded final state. No call may throw.
 */
class ConcurrencyTest {
    @TempDir
    lateinit var dir: Path

    private val quick = SyncOptions(maxAttempts = 1u, maxWaitMs = 0uL, force = true)

    private val base: List<RawContact> = (0 until BASE).map { generatedContact(it) }

    /** The writer's change feeds: edits, new contacts and deletions, a matched contact among each. */
    private val steps: List<Pair<List<RawContact>, List<String>>> = (0 until STEPS).map { k ->
        val edits = (k * 100 until k * 100 + 50).map { generatedContact(it, version = 1) }
        val added = (BASE + k * 50 until BASE + (k + 1) * 50).map { generatedContact(it) }
        val deleted = (1_500 + k * 20 until 1_500 + (k + 1) * 20).map { it.toString() } + (k * 100 + 60).toString()
        (edits + added) to deleted
    }

    @Test
    fun `eight threads at once see only consistent states and single-threaded answers`() {
        ReferenceServer().use { server ->
            val normalizer = Normalizer("DE")
            // Users with the phone numbers of a few contacts each step touches, so matches change.
            for (k in 0 until STEPS) {
                for (i in listOf(k * 100 + 3, k * 100 + 60, k * 100 + 70)) {
                    val phone = normalizer.normalize(IdentifierKind.PHONE, generatedContact(i).values[0].value)
                    server.putUser("u_$i", "phone" to phone.canonical)
                }
            }
            val client = OkHttpClient()
            val shared = open("shared.db", server, client)
            val reference = open("reference.db", server, client)

            // The single-threaded history: every state the reference engine passes through.
            val statuses = mutableListOf(reference.status())
            val matchLists = mutableListOf(matchesOf(reference))
            val views = HashMap<String, MutableSet<ContactView>>()
            fun recordViews() = allContacts(reference).forEach { views.getOrPut(it.sourceId, ::HashSet) += it }
            recordViews()
            for ((upserts, deleted) in steps) {
                reference.applyChanges(upserts, deleted)
                statuses += reference.status()
                matchLists += matchesOf(reference)
                recordViews()
            }
            assertEquals(statuses.first(), shared.status(), "both engines start from the same state")
            assertEquals(STEPS + 1, statuses.toSet().size, "every step changes the status")

            // Single-threaded answers of the normaliser and the key.
            val key = HashKey("concurrency-test", ByteArray(32) { it.toByte() })
            val inputs = normalizeInputs()
            val expected = inputs.map { (kind, raw) -> answer(normalizer, key, kind, raw) }

            val failures = ConcurrentLinkedQueue<String>()
            val start = CountDownLatch(1)
            val writerDone = AtomicBoolean(false)
            val threads = (0 until THREADS).map { index ->
                thread(name = "concurrency-$index") {
                    start.await()
                    try {
                        if (index == 0) {
                            for ((upserts, deleted) in steps) shared.applyChanges(upserts, deleted)
                        } else {
                            var round = 0
                            while (!writerDone.get() || round < MIN_ROUNDS) {
                                read(index, round, shared, normalizer, key, inputs, expected, statuses, matchLists, views, failures)
                                round++
                            }
                        }
                    } catch (e: Throwable) {
                        failures += "thread $index: ${e.stackTraceToString()}"
                    } finally {
                        if (index == 0) writerDone.set(true)
                    }
                }
            }
            start.countDown()
            // A guard against a deadlock, not a time limit on the work: one deadline for all the
            // joins (not five minutes per thread, which could add up to forty).
            val deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5)
            for (thread in threads) {
                val left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())
                if (left <= 0) break
                thread.join(left)
            }
            assertFalse(threads.any { it.isAlive }, "a thread is still running: deadlock?")
            if (failures.isNotEmpty()) fail("${failures.size} inconsistencies:\n" + failures.take(20).joinToString("\n"))

            assertEquals(statuses.last(), shared.status(), "the final state is the single-threaded one")
            assertEquals(matchLists.last(), matchesOf(shared))
            assertEquals(allContacts(reference), allContacts(shared))

            listOf(shared, reference, normalizer, key).forEach { it.close() }
        }
    }

    /** One reader round: every kind of query, each answer checked. */
    private fun read(
        index: Int,
        round: Int,
        engine: Engine,
        normalizer: Normalizer,
        key: HashKey,
        inputs: List<Pair<IdentifierKind, String>>,
        expected: List<String>,
        statuses: List<Status>,
        matchLists: List<Set<Triple<String?, String, String>>>,
        views: Map<String, Set<ContactView>>,
        failures: MutableCollection<String>,
    ) {
        // Each thread starts at another input, so different values cross the FFI at once.
        for (n in inputs.indices) {
            val i = (n + index * 7 + round) % inputs.size
            val (kind, raw) = inputs[i]
            val got = answer(normalizer, key, kind, raw)
            if (got != expected[i]) failures += "normalize $kind '$raw': $got, single-threaded ${expected[i]}"
        }
        val status = engine.status()
        if (status !in statuses) failures += "a status no single-threaded step produced: $status"
        val matches = matchesOf(engine)
        if (matches !in matchLists) failures += "a match list no single-threaded step produced: $matches"
        val offset = ((round * 131 + index * 17) % (BASE + STEPS * 50)).toULong()
        val page = engine.contacts(offset, PAGE)
        if (page.map { it.sourceId } != page.map { it.sourceId }.sorted()) failures += "a page out of source-id order"
        for (view in page) {
            if (view !in views[view.sourceId].orEmpty()) failures += "contact ${view.sourceId} in a state never stored: $view"
        }
    }

    private fun open(name: String, server: ReferenceServer, client: OkHttpClient): Engine {
        val registration = server.registerDevice(client)
        val engine = Engine.open(dir.resolve(name).toString(), Config(region = "DE"))
        engine.importSnapshot(base)
        engine.sync(OkHttpTransport(client, server.baseUrl) { registration.token }, quick)
        return engine
    }

    /** What a match means to the user; `matchedAt` is a clock reading, different per engine. */
    private fun matchesOf(engine: Engine): Set<Triple<String?, String, String>> =
        engine.matches().map { Triple(it.sourceId, it.canonical, it.userRef) }.toSet()

    private fun allContacts(engine: Engine): List<ContactView> = engine.contactsAfter(null, 1_000_000uL)

    /** A value's canonical form and hash, or its rejection code, as one comparable string. */
    private fun answer(normalizer: Normalizer, key: HashKey, kind: IdentifierKind, raw: String): String = try {
        val id = normalizer.normalize(kind, raw)
        "${id.kind} ${id.canonical} ${key.hash(id)}"
    } catch (e: ContactsyncException.InvalidValue) {
        "rejected ${e.reason}"
    }

    private fun normalizeInputs(): List<Pair<IdentifierKind, String>> = buildList {
        for (i in 0 until 20) {
            add(IdentifierKind.PHONE to "0151 ${30_000_000 + i * 7919}")
            add(IdentifierKind.PHONE to "+49 (30) ${1_000_000 + i * 37}")
            add(IdentifierKind.EMAIL to "  Person.$i@Example.ORG ")
            add(IdentifierKind.HANDLE to "@user_$i")
        }
        add(IdentifierKind.PHONE to "12")
        add(IdentifierKind.EMAIL to "no-at-sign")
        add(IdentifierKind.PHONE to "not a number")
        add(IdentifierKind.EMAIL to "Ünïcødé@Bücher.example")
        assertTrue(size > 40)
    }

    private companion object {
        const val THREADS = 8
        const val BASE = 2_000
        const val STEPS = 6
        const val MIN_ROUNDS = 10
        const val PAGE = 50uL
    }
}
