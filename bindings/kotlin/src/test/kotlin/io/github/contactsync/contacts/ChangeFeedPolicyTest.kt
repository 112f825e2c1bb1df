package io.github.contactsync.contacts

import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue

class ChangeFeedPolicyTest {
    private val policy = ChangeFeedPolicy()
    private val now = 1_767_225_600_000L // 2026-01-01T00:00:00Z
    private val minute = 60_000L
    private val hour = 60 * minute
    private val day = 24 * hour
    private val overlap = ChangeFeedPolicy.DEFAULT_OVERLAP_MILLIS

    private fun planAfter(gap: Long) = policy.plan(lastImportStartedAt = now - gap, now = now)

    @Test
    fun `never imported means a full snapshot`() {
        assertEquals(FeedPlan.Full(now, FullReason.NEVER_IMPORTED), policy.plan(null, now))
    }

    @Test
    fun `a recent import gives a delta that starts a little before it`() {
        assertEquals(FeedPlan.Delta(startedAt = now, since = now - hour - overlap), planAfter(hour))
        // The same instant (two imports in one millisecond) is still a delta.
        assertEquals(FeedPlan.Delta(startedAt = now, since = now - overlap), planAfter(0))
    }

    @Test
    fun `29 days is still a delta`() {
        assertEquals(FeedPlan.Delta(now, now - 29 * day - overlap), planAfter(29 * day))
    }

    @Test
    fun `exactly 30 days and beyond is a full snapshot`() {
        assertEquals(FeedPlan.Full(now, FullReason.DELETION_LOG_EXPIRED), planAfter(30 * day))
        assertEquals(FeedPlan.Full(now, FullReason.DELETION_LOG_EXPIRED), planAfter(31 * day))
        assertEquals(FeedPlan.Full(now, FullReason.DELETION_LOG_EXPIRED), planAfter(400 * day))
    }

    @Test
    fun `the safety margin and the overlap move the boundary before the 30 days`() {
        // The oldest deletion a delta needs is at `since`; `since` must stay younger than the
        // retention minus the margin.
        val limit = 30 * day - ChangeFeedPolicy.DEFAULT_SAFETY_MARGIN_MILLIS - overlap
        assertTrue(planAfter(limit - 1) is FeedPlan.Delta)
        assertEquals(FeedPlan.Full(now, FullReason.DELETION_LOG_EXPIRED), planAfter(limit))
    }

    @Test
    fun `a clock that went backwards means a full snapshot`() {
        assertEquals(FeedPlan.Full(now, FullReason.CLOCK_WENT_BACKWARDS), planAfter(-1))
        assertEquals(FeedPlan.Full(now, FullReason.CLOCK_WENT_BACKWARDS), planAfter(-365 * day))
    }

    @Test
    fun `a delta selects by the provider's columns, strictly after since`() {
        val delta = FeedPlan.Delta(startedAt = 2_000, since = 1_000)
        assertEquals("contact_last_updated_timestamp > ?", FeedPlan.Delta.CHANGED_SELECTION)
        assertEquals("contact_deleted_timestamp > ?", FeedPlan.Delta.DELETED_SELECTION)
        assertEquals(listOf("1000"), delta.selectionArgs.toList())
        assertTrue(delta.isChangedContact(1_001))
        assertFalse(delta.isChangedContact(1_000))
        assertFalse(delta.isChangedContact(null)) // SQL: NULL > ? is not true either
        assertTrue(delta.isDeletion(DeletedRow(1, 1_001)))
        assertFalse(delta.isDeletion(DeletedRow(1, 1_000)))
    }

    @Test
    fun `a large delta becomes a streamed snapshot`() {
        assertFalse(policy.isTooLargeForDelta(ChangeFeedPolicy.DEFAULT_MAX_DELTA_CONTACTS))
        assertTrue(policy.isTooLargeForDelta(ChangeFeedPolicy.DEFAULT_MAX_DELTA_CONTACTS + 1))
    }

    @Test
    fun `nonsense settings are refused when the policy is made`() {
        assertThrows<IllegalArgumentException> { ChangeFeedPolicy(safetyMarginMillis = -1) }
        assertThrows<IllegalArgumentException> { ChangeFeedPolicy(safetyMarginMillis = 30 * day) }
        assertThrows<IllegalArgumentException> { ChangeFeedPolicy(maxDeltaContacts = 0) }
    }
}
