package io.github.contactsync.contacts

/**
 * Column names of the Android Contacts Provider, as `ContactsContract` defines them.
 *
 * Repeated here as plain strings so that the mapping compiles and is tested on a JVM without the
 * Android SDK. They are part of Android's public, stable API (a renamed column would break every
 * contacts app), so copying them carries no risk of drift.
 */
object ProviderColumns {
    /** `BaseColumns._ID`: the data row's id in `Data`, the raw contact's in `RawContactsEntity`. */
    const val ID: String = "_id"

    /** `RawContacts.CONTACT_ID` / `DeletedContacts.CONTACT_ID`: the aggregate contact's id. */
    const val CONTACT_ID: String = "contact_id"

    /** `Data.RAW_CONTACT_ID`: the raw contact (one account's copy) a data row belongs to. */
    const val RAW_CONTACT_ID: String = "raw_contact_id"

    /** `RawContactsEntity.DATA_ID`: the data row's id in `RawContactsEntity`. */
    const val DATA_ID: String = "data_id"

    /** `Contacts.DISPLAY_NAME` (`DISPLAY_NAME_PRIMARY`): the aggregate contact's name. */
    const val DISPLAY_NAME: String = "display_name"

    /** `Data.MIMETYPE`: what kind of data a row holds ([ProviderMimeTypes]). */
    const val MIMETYPE: String = "mimetype"

    /** `Data.DATA1`: the value itself (number, address, handle, URL). */
    const val DATA1: String = "data1"

    /** `Data.DATA2`: the value's `TYPE` code for phones, e-mails, IM and websites. */
    const val DATA2: String = "data2"

    /** `Data.DATA3`: the custom `LABEL` when `TYPE` is `TYPE_CUSTOM` (0). */
    const val DATA3: String = "data3"

    /** `Data.DATA5`: `Im.PROTOCOL`. */
    const val DATA5: String = "data5"

    /** `Data.DATA6`: `Im.CUSTOM_PROTOCOL` when the protocol is `PROTOCOL_CUSTOM` (-1). */
    const val DATA6: String = "data6"

    /** `RawContacts.DELETED`: 1 for a raw contact marked for deletion (`RawContactsEntity`). */
    const val DELETED: String = "deleted"

    /**
     * `Contacts.CONTACT_LAST_UPDATED_TIMESTAMP` (API 18): milliseconds since the epoch of the
     * contact's last change, as the provider's clock saw it.
     */
    const val CONTACT_LAST_UPDATED_TIMESTAMP: String = "contact_last_updated_timestamp"

    /** `DeletedContacts.CONTACT_DELETED_TIMESTAMP` (API 18): when the contact was deleted, in ms. */
    const val CONTACT_DELETED_TIMESTAMP: String = "contact_deleted_timestamp"
}

/**
 * The `Data.MIMETYPE` values the mapper reads (`CommonDataKinds.*.CONTENT_ITEM_TYPE`).
 *
 * Only kinds that hold something a discovery server can match: phone numbers, e-mail addresses,
 * messenger handles, and profile links that name a linked account. Names, nicknames, postal
 * addresses, notes and the rest stay on the device unread. `Nickname` in particular is not a
 * handle: it is what the user calls someone ("Bobby"), not a username in any namespace, and the
 * core (like its vCard reader, which ignores `NICKNAME`) has no identifier kind for it.
 */
object ProviderMimeTypes {
    /** `CommonDataKinds.Phone`: number in `data1`, `TYPE` in `data2`, `LABEL` in `data3`. */
    const val PHONE: String = "vnd.android.cursor.item/phone_v2"

    /** `CommonDataKinds.Email`: address in `data1`, `TYPE` in `data2`, `LABEL` in `data3`. */
    const val EMAIL: String = "vnd.android.cursor.item/email_v2"

    /** `CommonDataKinds.Im`: handle in `data1`, `PROTOCOL` in `data5`, `CUSTOM_PROTOCOL` in `data6`. */
    const val IM: String = "vnd.android.cursor.item/im"

    /** `CommonDataKinds.Website`: URL in `data1`, `TYPE` in `data2`. */
    const val WEBSITE: String = "vnd.android.cursor.item/website"

    /** Every kind the mapper reads: a reader selects `mimetype IN (...)` these and no others. */
    val MAPPED: List<String> = listOf(PHONE, EMAIL, IM, WEBSITE)
}
