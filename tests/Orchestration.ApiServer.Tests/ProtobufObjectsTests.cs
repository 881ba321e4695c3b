using Google.Protobuf;
using Orchestration.ApiServer.Serialization;
using Orchestration.Client;

namespace Orchestration.ApiServer.Tests;

/// <summary>Kubernetes protobuf bodies: the envelope, maps, inline and pointer fields, and refusal of what is not known.</summary>
[Trait("Category", "Unit")]
public sealed class ProtobufObjectsTests
{
    private static byte[] Envelope(string apiVersion, string kind, Action<CodedOutputStream> writeObject)
    {
        var obj = Message(writeObject);
        var typeMeta = Message(o =>
        {
            o.WriteTag(1, WireFormat.WireType.LengthDelimited);
            o.WriteString(apiVersion);
            o.WriteTag(2, WireFormat.WireType.LengthDelimited);
            o.WriteString(kind);
        });
        var unknown = Message(o =>
        {
            o.WriteTag(1, WireFormat.WireType.LengthDelimited);
            o.WriteBytes(ByteString.CopyFrom(typeMeta));
            o.WriteTag(2, WireFormat.WireType.LengthDelimited);
            o.WriteBytes(ByteString.CopyFrom(obj));
            o.WriteTag(3, WireFormat.WireType.LengthDelimited);
            o.WriteString("");
        });
        return [0x6b, 0x38, 0x73, 0x00, .. unknown];
    }

    private static byte[] Message(Action<CodedOutputStream> write)
    {
        using var buffer = new MemoryStream();
        var output = new CodedOutputStream(buffer);
        write(output);
        output.Flush();
        return buffer.ToArray();
    }

    private static void Field(CodedOutputStream o, int number, byte[] message)
    {
        o.WriteTag(number, WireFormat.WireType.LengthDelimited);
        o.WriteBytes(ByteString.CopyFrom(message));
    }

    private static void Text(CodedOutputStream o, int number, string value)
    {
        o.WriteTag(number, WireFormat.WireType.LengthDelimited);
        o.WriteString(value);
    }

    [Fact]
    public void A_config_map_with_metadata_and_data_reads_as_its_json()
    {
        var body = Envelope("v1", "ConfigMap", o =>
        {
            Field(o, 1, Message(m =>
            {
                Text(m, 1, "settings");
                Text(m, 2, "");
                m.WriteTag(7, WireFormat.WireType.Varint);
                m.WriteInt64(0);
                Field(m, 11, Message(e => { Text(e, 1, "app"); Text(e, 2, "web"); }));
            }));
            Field(o, 2, Message(e => { Text(e, 1, "mode"); Text(e, 2, "fast"); }));
            Field(o, 2, Message(e => { Text(e, 1, "empty"); }));
        });

        var obj = ProtobufObjects.Decode(body);

        obj.ToJsonString().Should().Be("""{"metadata":{"name":"settings","labels":{"app":"web"}},"data":{"mode":"fast","empty":""},"apiVersion":"v1","kind":"ConfigMap"}""");
    }

    [Fact]
    public void Inline_fields_sit_in_their_parent_and_pointer_zeros_are_kept()
    {
        var body = Envelope("apps/v1", "Deployment", o =>
        {
            Field(o, 1, Message(m => Text(m, 1, "web")));
            Field(o, 2, Message(spec =>
            {
                spec.WriteTag(1, WireFormat.WireType.Varint);
                spec.WriteInt32(0);
                spec.WriteTag(5, WireFormat.WireType.Varint);
                spec.WriteInt32(0);
                Field(spec, 3, Message(template => Field(template, 2, Message(pod =>
                    Field(pod, 2, Message(container =>
                    {
                        Text(container, 1, "web");
                        Field(container, 7, Message(env =>
                        {
                            Text(env, 1, "FROM");
                            Field(env, 3, Message(source => Field(source, 3, Message(selector =>
                            {
                                Field(selector, 1, Message(reference => Text(reference, 1, "settings")));
                                Text(selector, 2, "mode");
                            }))));
                        }));
                    }))))));
            }));
        });

        var obj = ProtobufObjects.Decode(body);

        obj["spec"]!["replicas"]!.GetValue<int>().Should().Be(0, "replicas is a pointer: a zero there was meant");
        obj["spec"]!.AsObject().ContainsKey("minReadySeconds").Should().BeFalse("a non-pointer zero is Go's default, omitted in JSON");
        obj["spec"]!["template"]!["spec"]!["containers"]![0]!["env"]![0]!["valueFrom"]!["configMapKeyRef"]!.ToJsonString().Should().Be("""{"name":"settings","key":"mode"}""");
    }

    [Fact]
    public void A_field_or_kind_the_server_does_not_know_is_415_and_a_broken_body_is_400()
    {
        var unknownField = Envelope("v1", "Namespace", o => Field(o, 1, Message(m => Text(m, 99, "x"))));
        var unknownKind = Envelope("networking.k8s.io/v1", "NetworkPolicy", o => Field(o, 1, Message(m => Text(m, 1, "r"))));
        byte[] broken = [0x6b, 0x38, 0x73, 0x00, 0x12, 0xff];

        ((Action)(() => ProtobufObjects.Decode(unknownField))).Should().Throw<ClusterApiException>().Which.Code.Should().Be(415);
        ((Action)(() => ProtobufObjects.Decode(unknownKind))).Should().Throw<ClusterApiException>().Which.Message.Should().Contain("NetworkPolicy");
        ((Action)(() => ProtobufObjects.Decode(broken))).Should().Throw<BadRequestException>();
    }
}
