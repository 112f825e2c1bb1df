import ContactSync
import Foundation
import XCTest

/// A "my invites" screen against the real reference server: ``ContactSync/invites()`` lists what the
/// device created with its expiry, ``ContactSync/revokeInvite(transport:code:)`` closes one on the
/// server (it redeems no more) and drops it from the list, a code the server does not hold open for
/// this device is its typed `404 not_found` and changes nothing, and ``ContactSync/observeInvites()``
/// follows every step — a redemption included, once a sync learned it.
final class InvitesTests: XCTestCase {
    private func codes(_ invites: [InviteView]) -> Set<String> { Set(invites.map(\.code)) }

    private func assertNotFound(
        _ what: String, file: StaticString = #filePath, line: UInt = #line, _ call: () async throws -> Void
    ) async {
        do {
            try await call()
            XCTFail("\(what): not refused", file: file, line: line)
        } catch ContactsyncError.Server(404, "not_found", _) {
        } catch {
            XCTFail("\(what): \(error)", file: file, line: line)
        }
    }

    func testInvitesAreListedWithTheirExpiryRevokedOnTheServerAndFollowed() async throws {
        let server = try ReferenceServer()
        defer { server.stop() }
        let dir = try temporaryDirectory(self)
        let (inviter, ana) = try await server.vouchedDevice("u_ana", in: dir)
        let (invited, bo) = try await server.vouchedDevice("u_bo", in: dir)

        let seen = Emissions<[InviteView]>()
        let following = Task { for try await invites in inviter.observeInvites() { seen.record(invites) } }
        defer { following.cancel() }
        _ = try await seen.next("the current list, at once") { $0.isEmpty }

        let kept = try await inviter.createInvite(transport: ana, ttl: 3600)
        let listed = try await seen.next("the created invite") { self.codes($0) == [kept.code] }[0]
        XCTAssertEqual(listed.expiresAt, kept.expiresAt, "the server's expiry")
        XCTAssertLessThan(listed.createdAt, listed.expiresAt)
        XCTAssertNil(listed.redeemedBy)

        let revoked = try await inviter.createInvite(transport: ana)
        _ = try await seen.next("both invites") { self.codes($0) == [kept.code, revoked.code] }
        try await inviter.revokeInvite(transport: ana, code: revoked.code)
        _ = try await seen.next("the revocation, told to subscribers") { self.codes($0) == [kept.code] }
        var now = try await inviter.invites()
        XCTAssertEqual(codes(now), [kept.code])
        // Closed on the server: nobody can redeem it any more.
        await assertNotFound("redeeming a revoked code") { _ = try await invited.redeemInvite(transport: bo, code: revoked.code) }

        // Codes the server does not hold open for this device: typed, and nothing changes.
        await assertNotFound("revoking twice") { try await inviter.revokeInvite(transport: ana, code: revoked.code) }
        let bos = try await invited.createInvite(transport: bo)
        await assertNotFound("revoking another's invite") { try await inviter.revokeInvite(transport: ana, code: bos.code) }
        let bosRef = try await inviter.redeemInvite(transport: ana, code: bos.code)
        XCTAssertEqual(bosRef, "u_bo", "another device's invite stays open")
        do {
            try await inviter.revokeInvite(transport: ana, code: "not an invite code")
            XCTFail("text that is no code was sent")
        } catch ContactsyncError.InvalidArgument {}
        now = try await inviter.invites()
        XCTAssertEqual(codes(now), [kept.code])

        // A used invite stays listed, and its redeemer shows once a sync learned it.
        let anasRef = try await invited.redeemInvite(transport: bo, code: kept.code)
        XCTAssertEqual(anasRef, "u_ana")
        await assertNotFound("revoking a used code") { try await inviter.revokeInvite(transport: ana, code: kept.code) }
        _ = try await inviter.sync(transport: ana, options: quickSync)
        let redeemed = try await seen.next("the redemption the sync learned") { $0.count == 1 && $0[0].redeemedBy != nil }
        XCTAssertEqual(redeemed[0].redeemedBy, "u_bo")
        now = try await inviter.invites()
        XCTAssertEqual(now, redeemed)
    }
}

/// What a stream yielded, in order, for a test to wait on: ``next(_:_:)`` gives the first value not
/// taken yet that it accepts (a change that leaves the list as it was emits it again), within 30 s.
private final class Emissions<T: Sendable>: @unchecked Sendable {
    // `values` and `taken` are read and written with the lock held.
    private let lock = NSLock()
    private var values: [T] = []
    private var taken = 0

    func record(_ value: T) {
        lock.lock()
        values.append(value)
        lock.unlock()
    }

    func next(_ what: String, _ wanted: (T) -> Bool) async throws -> T {
        for _ in 0..<600 {
            if let found = take(wanted) { return found }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        throw TestFailure("no emission: \(what)")
    }

    private func take(_ wanted: (T) -> Bool) -> T? {
        lock.lock()
        defer { lock.unlock() }
        while taken < values.count {
            let value = values[taken]
            taken += 1
            if wanted(value) { return value }
        }
        return nil
    }
}
