// What one call through the Swift bindings costs, and what the async layer adds to a bulk import.
// Run by scripts/bench.sh (release library, release Swift build); prints medians, each beside its
// baseline from the same run:
//   - per call: `coreVersion()` (the bare crossing: one string back) against `normalize` of a phone
//     number and of an e-mail address (the crossing plus the work, about 2 µs in Rust);
//   - per import: 20,000 contacts through the raw `Engine` against the same through `ContactSync`
//     (the dispatch queue hop, the continuation and the progress listener);
//   - per identifier in the private mode: blinding a batch of 1,024 identifiers, then verifying the
//     server's proofs and unblinding its answer (one call each, as the engine does it), against the
//     keyed hash of the same identifiers (`HashKey.hash`, one call each). The server's evaluation is
//     not timed. docs/performance.md, "Private discovery".
import ContactSync
import Foundation

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

/// Nanoseconds per call of `body`, as the median of `samples` timings of `batch` calls each.
func perCall(samples: Int = 200, batch: Int = 1000, _ body: () throws -> Void) rethrows -> Double {
    var timings: [Double] = []
    for _ in 0..<samples {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<batch { try body() }
        timings.append(Double(DispatchTime.now().uptimeNanoseconds - start) / Double(batch))
    }
    return median(timings)
}

func contact(_ i: Int) -> RawContact {
    RawContact(
        sourceId: String(i), displayName: "Person \(i)",
        values: [
            Labelled(kind: .phone, label: "mobile", value: "0151 \(20_000_000 + i)"),
            Labelled(kind: .email, label: "home", value: "person\(i)@example.org"),
        ],
        version: nil)
}

let normalizer = try Normalizer(region: "DE")
// Warm-up: the phone metadata, the allocator, the branch predictors.
for _ in 0..<50_000 {
    _ = coreVersion()
    _ = try normalizer.normalize(kind: .phone, raw: "030 1234567")
}
let crossing = perCall { _ = coreVersion() }
let phone = try perCall { _ = try normalizer.normalize(kind: .phone, raw: "030 1234567") }
let email = try perCall { _ = try normalizer.normalize(kind: .email, raw: "Person.Name@Example.ORG") }
print(String(format: "per call (median of 200 x 1000)  coreVersion %.2f µs   normalize phone %.2f µs   normalize email %.2f µs",
             crossing / 1000, phone / 1000, email / 1000))

let book = (0..<20_000).map(contact)
let dir = FileManager.default.temporaryDirectory.appendingPathComponent("contactsync-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: dir) }
var raw: [Double] = []
var wrapped: [Double] = []
for round in 0..<5 {
    let engine = try Engine.open(path: dir.appendingPathComponent("raw-\(round).db").path, config: Config(region: "DE"))
    var start = DispatchTime.now().uptimeNanoseconds
    _ = try engine.importSnapshot(contacts: book, listener: nil)
    raw.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)

    let sync = try await ContactSync.open(path: dir.appendingPathComponent("async-\(round).db").path, config: Config(region: "DE"))
    start = DispatchTime.now().uptimeNanoseconds
    _ = try await sync.importSnapshot(book)
    wrapped.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
}
print(String(format: "import of 20,000 contacts (median of 5)  raw Engine %.0f ms   ContactSync (async) %.0f ms",
             median(raw), median(wrapped)))

let oprfBatch = 1024
let ids = (0..<oprfBatch).map { Identifier(kind: .phone, canonical: "+49151\(10_000_000 + $0)") }
let oprfServer = try OprfServerKey.generate()
let oprfPublic = oprfServer.publicKey()
let hashKey = try HashKey(keyId: "k1", secret: Data(repeating: 7, count: 32))
var blindTimes: [Double] = []
var finalizeTimes: [Double] = []
var hashTimes: [Double] = []
var checksum = 0
for round in -3..<15 {
    var start = DispatchTime.now().uptimeNanoseconds
    let batch = try OprfBatch.blind(identifiers: ids, paddedLen: UInt32(oprfBatch))
    let elements = batch.elements()
    let blinded = DispatchTime.now().uptimeNanoseconds - start
    let answer = try oprfServer.evaluate(elements: elements)
    start = DispatchTime.now().uptimeNanoseconds
    let values = try batch.finalize(publicKey: oprfPublic, evaluated: answer.evaluated, proofs: answer.proofs)
    let finalized = DispatchTime.now().uptimeNanoseconds - start
    precondition(values.count == oprfBatch, "\(values.count) values for \(oprfBatch) identifiers")
    checksum &+= Int(values[oprfBatch - 1][0])
    start = DispatchTime.now().uptimeNanoseconds
    for id in ids { checksum &+= hashKey.hash(identifier: id).count }
    let hashing = DispatchTime.now().uptimeNanoseconds - start
    if round >= 0 {
        blindTimes.append(Double(blinded) / 1000 / Double(oprfBatch))
        finalizeTimes.append(Double(finalized) / 1000 / Double(oprfBatch))
        hashTimes.append(Double(hashing) / 1000 / Double(oprfBatch))
    }
}
print(String(format: "private discovery per identifier, batches of %d (median of 15 runs, %d core(s)):", oprfBatch,
             ProcessInfo.processInfo.activeProcessorCount))
print(String(format: "  baseline: keyed hash, HashKey.hash per identifier  %8.2f µs", median(hashTimes)))
print(String(format: "  device: OprfBatch.blind + elements (one call)      %8.2f µs", median(blindTimes)))
print(String(format: "  device: finalize (verify and unblind, one call)    %8.2f µs", median(finalizeTimes)))
print(String(format: "  device: all of it (target: at most 100)            %8.2f µs (checksum %d)",
             median(blindTimes) + median(finalizeTimes), checksum & 0xffff))
