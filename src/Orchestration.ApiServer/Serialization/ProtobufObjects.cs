using System.Globalization;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Orchestration.Client;

namespace Orchestration.ApiServer.Serialization;

/// <summary>
/// Reads request bodies in Kubernetes's protobuf encoding (<c>application/vnd.kubernetes.protobuf</c>),
/// which kubectl 1.32 and later use for typed creates: the <c>k8s\0</c> envelope around a
/// <c>runtime.Unknown</c> whose raw bytes are the object. The object is turned into the same JSON
/// tree a JSON body gives, guided by a table of the messages' field numbers
/// (<see cref="ProtobufSchema"/>). A field the table does not know is refused with 415, so nothing
/// a client sent is ever dropped silently.
/// </summary>
public static class ProtobufObjects
{
    private static readonly byte[] Magic = [0x6b, 0x38, 0x73, 0x00];

    /// <summary>Whether a body starts with the Kubernetes protobuf envelope.</summary>
    public static bool HasEnvelope(ReadOnlySpan<byte> body) => body.StartsWith(Magic);

    /// <summary>Decodes a body into a JSON object.</summary>
    /// <exception cref="BadRequestException">The body is not a valid envelope.</exception>
    /// <exception cref="ClusterApiException">415: the kind or one of its fields is not known here.</exception>
    public static JsonObject Decode(byte[] body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (!HasEnvelope(body))
        {
            throw new BadRequestException("the protobuf body lacks the k8s envelope");
        }

        string? apiVersion = null;
        string? kind = null;
        ByteString? raw = null;
        try
        {
            var input = new CodedInputStream(body, Magic.Length, body.Length - Magic.Length);
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                switch (WireFormat.GetTagFieldNumber(tag))
                {
                    case 1:
                        var typeMeta = new CodedInputStream(input.ReadBytes().ToByteArray());
                        uint inner;
                        while ((inner = typeMeta.ReadTag()) != 0)
                        {
                            switch (WireFormat.GetTagFieldNumber(inner))
                            {
                                case 1:
                                    apiVersion = typeMeta.ReadString();
                                    break;
                                case 2:
                                    kind = typeMeta.ReadString();
                                    break;
                                default:
                                    typeMeta.SkipLastField();
                                    break;
                            }
                        }

                        break;
                    case 2:
                        raw = input.ReadBytes();
                        break;
                    case 3:
                        if (input.ReadString() is { Length: > 0 } encoding)
                        {
                            throw Unsupported($"content encoding \"{encoding}\"");
                        }

                        break;
                    default:
                        input.SkipLastField();
                        break;
                }
            }
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new BadRequestException($"the protobuf body is malformed: {ex.Message}", ex);
        }

        if (string.IsNullOrEmpty(kind) || raw is null)
        {
            throw new BadRequestException("the protobuf body names no kind or carries no object");
        }

        var group = apiVersion?.Contains('/', StringComparison.Ordinal) == true ? apiVersion[..apiVersion.IndexOf('/', StringComparison.Ordinal)] : "";
        var message = ProtobufSchema.Default.MessageForKind(group, kind) ?? throw Unsupported($"the kind {kind} ({apiVersion})");
        JsonObject obj;
        try
        {
            obj = ReadMessage(message, new CodedInputStream(raw.ToByteArray()), kind);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or ArgumentOutOfRangeException or System.Text.Json.JsonException)
        {
            throw new BadRequestException($"the protobuf {kind} is malformed: {ex.Message}", ex);
        }

        obj["apiVersion"] = apiVersion;
        obj["kind"] = kind;
        return obj;
    }

    private static JsonObject ReadMessage(ProtobufMessage message, CodedInputStream input, string path)
    {
        var obj = new JsonObject();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            var number = WireFormat.GetTagFieldNumber(tag);
            if (!message.Fields.TryGetValue(number, out var field))
            {
                throw Unsupported($"field {number} of {message.Name} (at {path})");
            }

            if (field.Type == ProtobufSchema.Ignored)
            {
                input.SkipLastField();
                continue;
            }

            var fieldPath = $"{path}.{field.JsonName}";
            if (field.Type.StartsWith("map<", StringComparison.Ordinal))
            {
                var map = obj[field.JsonName] as JsonObject ?? [];
                obj[field.JsonName] = map;
                var (key, value) = ReadMapEntry(field, new CodedInputStream(input.ReadBytes().ToByteArray()), fieldPath);
                map[key] = value;
                continue;
            }

            JsonNode? item;
            if (field.Repeated && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited && field.IsPackable)
            {
                var packed = new CodedInputStream(input.ReadBytes().ToByteArray());
                var list = obj[field.JsonName] as JsonArray ?? [];
                obj[field.JsonName] = list;
                while (!packed.IsAtEnd)
                {
                    list.Add(ReadScalar(field.Type, packed));
                }

                continue;
            }

            item = ReadValue(field.Type, input, fieldPath);
            if (field.Inline && item is JsonObject inline)
            {
                // Go's inline structs: their fields sit in this object in JSON.
                foreach (var (name, value) in inline.ToList())
                {
                    inline.Remove(name);
                    obj[name] = value;
                }

                continue;
            }

            if (item is null || (!field.Repeated && !field.Pointer && IsZero(item)))
            {
                // Go writes every non-pointer field, zero or not; in JSON those are omitted.
                continue;
            }

            if (field.Repeated)
            {
                var list = obj[field.JsonName] as JsonArray ?? [];
                obj[field.JsonName] = list;
                list.Add(item);
            }
            else
            {
                obj[field.JsonName] = item;
            }
        }

        return obj;
    }

    private static (string Key, JsonNode? Value) ReadMapEntry(ProtobufField field, CodedInputStream entry, string path)
    {
        var valueType = field.Type[(field.Type.IndexOf(',', StringComparison.Ordinal) + 1)..^1].Trim();
        var key = "";
        JsonNode? value = valueType switch
        {
            "string" or "bytes" => JsonValue.Create(""),
            _ => null,
        };
        uint tag;
        while ((tag = entry.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1:
                    key = entry.ReadString();
                    break;
                case 2:
                    value = ReadValue(valueType, entry, $"{path}[{key}]");
                    break;
                default:
                    throw Unsupported($"a map entry field of {path}");
            }
        }

        return (key, value);
    }

    private static JsonNode? ReadValue(string type, CodedInputStream input, string path)
    {
        switch (type)
        {
            case "string" or "bytes" or "int32" or "int64" or "bool" or "double":
                return ReadScalar(type, input);
            case "Time" or "MicroTime":
                var time = new CodedInputStream(input.ReadBytes().ToByteArray());
                long seconds = 0;
                int nanos = 0;
                uint tag;
                while ((tag = time.ReadTag()) != 0)
                {
                    if (WireFormat.GetTagFieldNumber(tag) == 1)
                    {
                        seconds = time.ReadInt64();
                    }
                    else if (WireFormat.GetTagFieldNumber(tag) == 2)
                    {
                        nanos = time.ReadInt32();
                    }
                    else
                    {
                        time.SkipLastField();
                    }
                }

                if (seconds == 0 && nanos == 0)
                {
                    // Go's zero time: absent in JSON.
                    return null;
                }

                var at = DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(nanos / 100);
                return type == "Time"
                    ? at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
                    : at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
            case "Quantity":
                var quantity = new CodedInputStream(input.ReadBytes().ToByteArray());
                string text = "";
                while ((tag = quantity.ReadTag()) != 0)
                {
                    if (WireFormat.GetTagFieldNumber(tag) == 1)
                    {
                        text = quantity.ReadString();
                    }
                    else
                    {
                        quantity.SkipLastField();
                    }
                }

                return JsonValue.Create(text);
            case "IntOrString":
                var both = new CodedInputStream(input.ReadBytes().ToByteArray());
                long kind = 0;
                var number = 0;
                var str = "";
                while ((tag = both.ReadTag()) != 0)
                {
                    switch (WireFormat.GetTagFieldNumber(tag))
                    {
                        case 1:
                            kind = both.ReadInt64();
                            break;
                        case 2:
                            number = both.ReadInt32();
                            break;
                        case 3:
                            str = both.ReadString();
                            break;
                        default:
                            both.SkipLastField();
                            break;
                    }
                }

                return kind == 1 ? JsonValue.Create(str) : JsonValue.Create(number);
            case "RawJSON":
                var raw = new CodedInputStream(input.ReadBytes().ToByteArray());
                JsonNode? parsed = null;
                while ((tag = raw.ReadTag()) != 0)
                {
                    if (WireFormat.GetTagFieldNumber(tag) == 1)
                    {
                        parsed = JsonNode.Parse(raw.ReadBytes().ToStringUtf8());
                    }
                    else
                    {
                        raw.SkipLastField();
                    }
                }

                return parsed ?? new JsonObject();
            default:
                var message = ProtobufSchema.Default.Message(type) ?? throw Unsupported($"the message {type} (at {path})");
                return ReadMessage(message, new CodedInputStream(input.ReadBytes().ToByteArray()), path);
        }
    }

    private static bool IsZero(JsonNode node) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s.Length == 0,
        JsonValue v when v.TryGetValue<bool>(out var b) => !b,
        JsonValue v when v.TryGetValue<int>(out var i) => i == 0,
        JsonValue v when v.TryGetValue<long>(out var l) => l == 0,
        JsonValue v when v.TryGetValue<double>(out var d) => d == 0,
        _ => false,
    };

    private static JsonNode? ReadScalar(string type, CodedInputStream input) => type switch
    {
        "string" => JsonValue.Create(input.ReadString()),
        "bytes" => JsonValue.Create(Convert.ToBase64String(input.ReadBytes().ToByteArray())),
        "int32" => JsonValue.Create(input.ReadInt32()),
        "int64" => JsonValue.Create(input.ReadInt64()),
        "bool" => JsonValue.Create(input.ReadBool()),
        "double" => JsonValue.Create(input.ReadDouble()),
        _ => throw Unsupported($"the scalar type {type}"),
    };

    private static ClusterApiException Unsupported(string what) =>
        new(415, "UnsupportedMediaType", $"the protobuf body uses {what}, which this server does not read; send the object as JSON (application/json) instead");
}
