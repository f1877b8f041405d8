/// Orders names the way an operator reads them: `ttyUSB2` before `ttyUSB10`, `1-1.2` before `1-1.10`.
func naturallyPrecedes(_ lhs: String, _ rhs: String) -> Bool {
    precedes(naturalChunks(lhs), naturalChunks(rhs))
}

/// `items` in the natural order of their names, each name split once (a farm's modems are sorted
/// every pass).
func naturallySorted<Item>(_ items: [Item], by name: (Item) -> String) -> [Item] {
    items.map { (naturalChunks(name($0)), $0) }.sorted { precedes($0.0, $1.0) }.map(\.1)
}

private func precedes(_ left: [NaturalChunk], _ right: [NaturalChunk]) -> Bool {
    for (a, b) in zip(left, right) where a != b {
        switch (a, b) {
        case (.number(let x), .number(let y)): return x < y
        case (.number, .text): return true
        case (.text, .number): return false
        case (.text(let x), .text(let y)): return x < y
        }
    }
    return left.count < right.count
}

private enum NaturalChunk: Equatable {
    case text(String)
    case number(UInt64)
}

private func naturalChunks(_ name: String) -> [NaturalChunk] {
    var chunks: [NaturalChunk] = []
    var current = ""
    var inDigits = false
    func flush() {
        guard !current.isEmpty else { return }
        chunks.append(inDigits ? UInt64(current).map(NaturalChunk.number) ?? .text(current) : .text(current))
        current = ""
    }
    for character in name {
        let digit = character.isASCII && character.isNumber
        if digit != inDigits {
            flush()
            inDigits = digit
        }
        current.append(character)
    }
    flush()
    return chunks
}
