import ContactSync
import Foundation
import XCTest

/// The shared identifier vectors (`tests/vectors/identifiers.json`) through the generated Swift
/// bindings: the same file the Rust and Kotlin tests read, so every platform normalises and hashes
/// byte for byte alike. This proves that strings cross the FFI unchanged in both directions
/// (non-ASCII input, canonical output) and that rejections arrive as `ContactsyncError.InvalidValue`
/// with the stable reason code an app can show.
///
/// And RFC 9497's VOPRF vectors (`tests/vectors/voprf.json`, Appendix A.1.2, ristretto255-SHA512)
/// through the library's OPRF: the client's blinding and finalising, the server's evaluation and
/// proof, byte for byte as the Rust tests check them.
final class VectorsTests: XCTestCase {
    func testEveryCaseNormalisesIsRejectedAndHashesAsTheVectorsSay() throws {
        let data = try Data(contentsOf: TestEnv.vectors.appendingPathComponent("identifiers.json"))
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let hashSpec = try XCTUnwrap(root["hash"] as? [String: Any])
        let secret = try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(hashSpec["key_base64"] as? String)))
        let key = try HashKey(keyId: try XCTUnwrap(hashSpec["key_id"] as? String), secret: secret)
        let cases = try XCTUnwrap(root["cases"] as? [[String: Any]])
        XCTAssertFalse(cases.isEmpty, "identifiers.json holds no case")

        var normalizers: [String: Normalizer] = [:]
        var failures: [String] = []
        var accepted = 0
        var rejected = 0
        for item in cases {
            let kindName = try XCTUnwrap(item["kind"] as? String)
            let kind = try XCTUnwrap(Self.kinds[kindName], "unknown kind \(kindName)")
            // Non-phone kinds do not depend on the region; the Rust test reads them in its default
            // region, US, and so does this one.
            let region = item["region"] as? String ?? "US"
            let input = try XCTUnwrap(item["input"] as? String)
            let canonical = item["canonical"] as? String
            let error = item["error"] as? String
            let expectedHash = item["hash"] as? String
            let normalizer: Normalizer
            if let known = normalizers[region] {
                normalizer = known
            } else {
                normalizer = try Normalizer(region: region)
                normalizers[region] = normalizer
            }
            let label = "\(kindName) \(region) '\(input)'"

            let result: Result<Identifier, ContactsyncError>
            do {
                result = .success(try normalizer.normalize(kind: kind, raw: input))
            } catch let e as ContactsyncError {
                result = .failure(e)
            }
            switch (canonical, error, result) {
            case (let expected?, _, .success(let identifier)):
                accepted += 1
                // Compare the bytes, not only the strings: what is hashed is UTF-8, and Swift's
                // String equality would call canonically equivalent Unicode forms equal.
                if Array(identifier.canonical.utf8) != Array(expected.utf8) || identifier.kind != kind {
                    failures.append("\(label): got \(identifier.kind) '\(identifier.canonical)', expected '\(expected)'")
                    continue
                }
                let digest = key.hash(identifier: identifier)
                if digest != expectedHash {
                    failures.append("\(label): hash \(digest), expected \(expectedHash ?? "none")")
                }
                if base64URLDecode(digest)?.count != 16 {
                    failures.append("\(label): hash \(digest) is not a 16-byte digest")
                }
            case (_?, _, .failure(let e)):
                failures.append("\(label): rejected (\(e)), expected '\(canonical!)'")
            case (nil, let expected?, .failure(.InvalidValue(let reason))):
                rejected += 1
                if reason != expected {
                    failures.append("\(label): rejected as \(reason), expected \(expected)")
                }
            case (nil, _?, .failure(let e)):
                failures.append("\(label): failed with \(e), expected InvalidValue")
            case (nil, let expected?, .success(let identifier)):
                failures.append("\(label): accepted as '\(identifier.canonical)', expected \(expected)")
            case (nil, nil, _):
                failures.append("\(label): the case has neither a canonical form nor an error")
            }
        }
        XCTAssert(failures.isEmpty, "\(failures.count) of \(cases.count) vector cases differ:\n" + failures.joined(separator: "\n"))
        XCTAssert(accepted > 0 && rejected > 0, "\(accepted) accepted and \(rejected) rejected cases checked")
    }

    func testTheRFC9497VOPRFVectorsHoldThroughTheFFI() throws {
        let data = try Data(contentsOf: TestEnv.vectors.appendingPathComponent("voprf.json"))
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let key = try OprfServerKey.fromBytes(secret: try hex(root["secret_key"]))
        let publicKey = try hex(root["public_key"])
        XCTAssertEqual(key.publicKey(), publicKey)
        let vectors = try XCTUnwrap(root["vectors"] as? [[String: Any]])
        XCTAssertEqual(vectors.count, 3)
        for v in vectors {
            let name = v["name"] as? String ?? "?"
            let batch = try OprfBatch.blindKnown(inputs: try hexList(v["input"]), blinds: try hexList(v["blind"]))
            XCTAssertEqual(batch.elements(), try hexList(v["blinded"]), "\(name) blinded")
            let answer = try key.evaluateKnown(elements: batch.elements(), proofScalars: [try hex(v["proof_scalar"])])
            XCTAssertEqual(answer.evaluated, try hexList(v["evaluated"]), "\(name) evaluated")
            XCTAssertEqual(answer.proofs, [try hex(v["proof"])], "\(name) proof")
            let outputs = try batch.finalize(publicKey: publicKey, evaluated: answer.evaluated, proofs: answer.proofs)
            XCTAssertEqual(outputs, try hexList(v["output"]), "\(name) output")

            // An answer under another key fails the proof: a typed error, no values.
            let forged = try OprfServerKey.generate().evaluate(elements: batch.elements())
            XCTAssertThrowsError(
                try batch.finalize(publicKey: publicKey, evaluated: forged.evaluated, proofs: forged.proofs)
            ) { error in
                guard case ContactsyncError.Protocol = error else { return XCTFail("\(error)") }
            }
        }
        // Bytes that are not a scalar are an argument error, not a hang or a crash.
        XCTAssertThrowsError(try OprfBatch.blindKnown(inputs: [Data([0])], blinds: [Data(count: 32)])) { error in
            guard case ContactsyncError.InvalidArgument = error else { return XCTFail("\(error)") }
        }
    }

    private func hex(_ value: Any?) throws -> Data {
        let text = try XCTUnwrap(value as? String)
        var bytes = Data()
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(try XCTUnwrap(UInt8(text[index..<next], radix: 16)))
            index = next
        }
        return bytes
    }

    private func hexList(_ value: Any?) throws -> [Data] {
        try XCTUnwrap(value as? [String]).map { try hex($0) }
    }

    func testGuessKindAndCoreVersionCrossTheBoundary() {
        XCTAssertEqual(guessKind(raw: "ana@example.org"), .email)
        XCTAssertEqual(guessKind(raw: "+49 151 23456789"), .phone)
        XCTAssertFalse(coreVersion().isEmpty)
    }

    private static let kinds: [String: IdentifierKind] = [
        "phone": .phone, "email": .email, "handle": .handle, "account": .account, "invite": .invite,
    ]
}

/// Decodes unpadded base64url (the hashes' encoding).
func base64URLDecode(_ text: String) -> Data? {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.count % 4 != 0 { base64 += "=" }
    return Data(base64Encoded: base64)
}
