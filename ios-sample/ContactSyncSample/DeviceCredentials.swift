import ContactSync
import Foundation
import Security

/// This device's registration with the discovery server: its client id and bearer token, in the
/// keychain.
///
/// Stored `AfterFirstUnlockThisDeviceOnly`:
/// - *this device only*: never in iCloud Keychain and never restored from a backup onto another
///   device, where a second device would use this registration (two devices as one client on the
///   server, each replacing the other's contacts);
/// - *after first unlock*: readable while the phone is locked, so a background refresh can sync.
///
/// Keychain items can outlive the app (they may still be there after a reinstall). That is
/// harmless: a new database starts with a full re-sync, which replaces whatever the server held
/// for this client.
///
/// A value type holding only constants, hence `Sendable`: the transport reads the token on the
/// engine's thread. The keychain itself is safe to use from any thread.
struct DeviceCredentials: Sendable {
    private let service = "io.github.contactsync.sample.device"

    /// The bearer token, or `nil` before the first registration.
    var token: String? {
        read(account: "token")
    }

    func save(_ registration: Registration) throws {
        try write(registration.clientId, account: "client_id")
        try write(registration.token, account: "token")
    }

    /// Forgets the registration (the server no longer knows the token: 401).
    func clear() throws {
        try delete(account: "client_id")
        try delete(account: "token")
    }

    // MARK: Keychain

    private func query(account: String) -> [String: Any] {
        [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
        ]
    }

    private func read(account: String) -> String? {
        var query = query(account: account)
        query[kSecReturnData as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        var result: CFTypeRef?
        guard SecItemCopyMatching(query as CFDictionary, &result) == errSecSuccess,
              let data = result as? Data
        else { return nil }
        return String(data: data, encoding: .utf8)
    }

    private func write(_ value: String, account: String) throws {
        try delete(account: account)
        var item = query(account: account)
        item[kSecValueData as String] = Data(value.utf8)
        item[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        let status = SecItemAdd(item as CFDictionary, nil)
        guard status == errSecSuccess else { throw KeychainError(status: status) }
    }

    private func delete(account: String) throws {
        let status = SecItemDelete(query(account: account) as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else { throw KeychainError(status: status) }
    }
}

/// A keychain call failed; `status` is its `OSStatus`.
struct KeychainError: Error, CustomStringConvertible {
    let status: OSStatus

    var description: String {
        let message = SecCopyErrorMessageString(status, nil) as String? ?? "unknown"
        return "keychain error \(status): \(message)"
    }
}
