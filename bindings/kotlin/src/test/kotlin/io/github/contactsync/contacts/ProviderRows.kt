package io.github.contactsync.contacts

/**
 * Rows shaped exactly like the Contacts Provider returns them, for the tests of this package.
 *
 * The `Data` view stores every data column as TEXT (the table declares `data1`..`data15` without
 * a numeric affinity), so type and protocol codes arrive as strings ("2", "-1") even though the
 * app wrote integers; the rows here do the same. `contact_last_updated_timestamp` and the ids
 * are real INTEGER columns.
 */
internal object ProviderRows {
    const val NAME = "vnd.android.cursor.item/name"
    const val NICKNAME = "vnd.android.cursor.item/nickname"

    /** One row of `ContactsContract.Data` with the projection `ContactsContractReader` uses. */
    fun data(
        dataId: Long,
        rawContactId: Long,
        contactId: Long?,
        displayName: String?,
        lastUpdated: Long?,
        mimetype: String,
        data1: String?,
        data2: String? = null,
        data3: String? = null,
        data5: String? = null,
        data6: String? = null,
    ): MapRow = MapRow(
        ProviderColumns.ID to dataId,
        ProviderColumns.RAW_CONTACT_ID to rawContactId,
        ProviderColumns.CONTACT_ID to contactId,
        ProviderColumns.DISPLAY_NAME to displayName,
        ProviderColumns.CONTACT_LAST_UPDATED_TIMESTAMP to lastUpdated,
        ProviderColumns.MIMETYPE to mimetype,
        ProviderColumns.DATA1 to data1,
        ProviderColumns.DATA2 to data2,
        ProviderColumns.DATA3 to data3,
        ProviderColumns.DATA5 to data5,
        ProviderColumns.DATA6 to data6,
    )

    /**
     * One row of `ContactsContract.RawContactsEntity`: `_id` is the raw contact, `data_id` the
     * data row, and `deleted` is projected; there is no display name or contact timestamp.
     */
    fun entity(
        rawContactId: Long,
        dataId: Long?,
        contactId: Long?,
        deleted: Int,
        mimetype: String?,
        data1: String?,
        data2: String? = null,
    ): MapRow = MapRow(
        ProviderColumns.ID to rawContactId,
        ProviderColumns.DATA_ID to dataId,
        ProviderColumns.CONTACT_ID to contactId,
        ProviderColumns.DELETED to deleted,
        ProviderColumns.MIMETYPE to mimetype,
        ProviderColumns.DATA1 to data1,
        ProviderColumns.DATA2 to data2,
    )
}
