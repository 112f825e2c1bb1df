import ContactSync
import Foundation
import XCTest

/// An invite link as the app receives it from a Universal Link: Ana's device creates an invite and
/// Bo's app redeems the `URL` it was opened with — against the real reference server.
final class InviteLinkTests: XCTestCase {
    func testTheOpenedInviteLinkIsRedeemedAsAURL() async throws {
        let server = try ReferenceServer()
        defer { server.stop() }
        let dir = try temporaryDirectory(self)
        let (inviter, ana) = try await server.vouchedDevice("u_ana", in: dir)
        let (invited, bo) = try await server.vouchedDevice("u_bo", in: dir)

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
