package io.github.contactsync.background

import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

/** What [BackgroundSchedule] asks WorkManager for: every field the Android glue copies. */
class BackgroundScheduleTest {
    private val schedule = BackgroundSchedule()

    @Test
    fun `periodic work runs on a connected network with the battery not low, updated in place`() {
        val spec = schedule.periodic
        assertEquals(BackgroundSchedule.PERIODIC, spec.name)
        assertTrue(spec.requiresNetwork && spec.requiresBatteryNotLow)
        val kind = assertIs<WorkKind.Periodic>(spec.kind)
        assertEquals(12 * 60 * 60_000L, kind.intervalMillis)
        assertEquals(60 * 60_000L, kind.flexMillis)
        assertEquals(PeriodicPolicy.UPDATE, kind.policy)
        assertEquals(60_000L, spec.backoffMillis)
    }

    @Test
    fun `the period, flex and backoff are kept within WorkManager's bounds`() {
        val tight = BackgroundSchedule(intervalMinutes = 1, flexMinutes = 0, backoffSeconds = 1)
        val kind = assertIs<WorkKind.Periodic>(tight.periodic.kind)
        assertEquals(15 * 60_000L, kind.intervalMillis, "WorkManager's minimum period")
        assertEquals(5 * 60_000L, kind.flexMillis, "WorkManager's minimum flex")
        assertEquals(10_000L, tight.periodic.backoffMillis)
        val loose = BackgroundSchedule(intervalMinutes = 30, flexMinutes = 600, backoffSeconds = 1_000_000)
        assertEquals(30 * 60_000L, assertIs<WorkKind.Periodic>(loose.periodic.kind).flexMillis, "flex within the period")
        assertEquals(5 * 60 * 60_000L, loose.periodic.backoffMillis)
    }

    @Test
    fun `the contacts trigger watches the provider's contacts, debounced, kept when armed and appended when re-armed`() {
        val first = assertIs<WorkKind.OneTime>(schedule.contactsTrigger.kind)
        val trigger = assertNotNull(first.contentUriTrigger)
        assertEquals("content://com.android.contacts/contacts", trigger.uri)
        assertTrue(trigger.descendants)
        assertEquals(10_000L to 120_000L, trigger.updateDelayMillis to trigger.maxDelayMillis)
        assertEquals(OneTimePolicy.KEEP, first.policy)
        assertFalse(first.expedited, "content-URI triggers cannot be expedited")
        assertFalse(schedule.contactsTrigger.requiresNetwork, "noticing a change needs no network")
        val rearm = assertIs<WorkKind.OneTime>(schedule.rearmTrigger.kind)
        assertEquals(OneTimePolicy.APPEND_OR_REPLACE, rearm.policy, "a replace would cancel the worker re-arming it")
        assertEquals(schedule.contactsTrigger.name, schedule.rearmTrigger.name)
    }

    @Test
    fun `the run after a change is expedited from API 31, appended, on a connected network`() {
        for ((sdk, expedited) in listOf(24 to false, 30 to false, 31 to true, 36 to true)) {
            val spec = schedule.afterChange(sdk)
            val kind = assertIs<WorkKind.OneTime>(spec.kind)
            assertEquals(expedited, kind.expedited, "API $sdk")
            assertEquals(OneTimePolicy.APPEND_OR_REPLACE, kind.policy)
            assertNull(kind.contentUriTrigger)
            assertEquals(0L, kind.initialDelayMillis, "expedited work takes no delay")
            assertTrue(spec.requiresNetwork)
            assertFalse(spec.requiresBatteryNotLow, "expedited work takes only network and storage constraints")
        }
    }

    @Test
    fun `a server's wait becomes one replaced run after it, never a negative delay`() {
        val later = assertIs<WorkKind.OneTime>(schedule.retryAt(notBeforeMillis = 90_000, nowMillis = 30_000).kind)
        assertEquals(60_000L, later.initialDelayMillis)
        assertEquals(OneTimePolicy.REPLACE, later.policy)
        assertEquals(0L, assertIs<WorkKind.OneTime>(schedule.retryAt(10, 20).kind).initialDelayMillis)
        assertEquals(4, BackgroundSchedule.ALL_NAMES.toSet().size)
    }

    @Test
    fun `the engine's typed errors map to retry or failure`() {
        val now = 1_000_000L
        val retryLater = BackgroundSync.classify(io.github.contactsync.ffi.ContactsyncException.RetryLater(until = 2_000), now)
        assertEquals(BackgroundResult.Retry::class, retryLater::class)
        assertEquals(2_000_000L, (retryLater as BackgroundResult.Retry).notBeforeMillis)
        // A wait already over leaves the delay to the backoff.
        assertNull((BackgroundSync.classify(io.github.contactsync.ffi.ContactsyncException.RetryLater(until = 1), now) as BackgroundResult.Retry).notBeforeMillis)
        val forbidden = BackgroundSync.classify(io.github.contactsync.ffi.ContactsyncException.Server(403u, "forbidden", "no"), now)
        assertEquals(FailureReason.FORBIDDEN, (forbidden as BackgroundResult.Failure).reason)
        val newer = BackgroundSync.classify(io.github.contactsync.ffi.ContactsyncException.NewerSchema(9L, 3L), now)
        assertEquals(FailureReason.NEWER_SCHEMA, (newer as BackgroundResult.Failure).reason)
    }
}
