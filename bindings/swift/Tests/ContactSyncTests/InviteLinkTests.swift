import ContactSync
import Foundation
import XCTest

/// An invite link as the app receives it from a Universal Link: Ana's device creates an invite and
/// Bo's app redeems the `URL` it was opened with — against the real reference server.
final class InviteLinkTests: XCTestCase {
    func testTheOpenedInviteLinkIsRedeemedAsAURL() async throws {
        let server = try ReferenceServer()
        defer { server.stop() }
        let ana = try server.transport(token: try server.vouchDevice("u_ana"))
        let bo = try server.transport(token: try server.vouchDevice("u_bo"))
        let dir = try temporaryDirectory(self)
        let inviter = try await ContactSync.open(
            path: dir.appendingPathComponent("ana.db").path, config: Config(region: "DE"))
        let invited = try await ContactSync.open(
            path: dir.appendingPathComponent("bo.db").path, config: Config(region: "DE"))

        let invite = try await inviter.createInvite(transport: ana)
        let opened = try XCTUnwrap(URL(string: invite.link + "/?utm_source=qr"))
        let inviterRef = try await invited.redeemInvite(transport: bo, url: opened)
        XCTAssertEqual(inviterRef, "u_ana")
        let matched = try await invited.matches().map(\.userRef)
        XCTAssertEqual(matched, ["u_ana"])

        do {
            _ = try await invited.redeemInvite(
                transport: bo, url: try XCTUnwrap(URL(string: "https://example.org/profile/ana")))
            XCTFail("a URL without an invite code was redeemed")
        } catch ContactsyncError.InvalidArgument(let detail) {
            XCTAssertTrue(detail.contains("no_code_in_link"), detail)
        }
    }
}
