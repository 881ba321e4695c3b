using Google.Protobuf;

namespace Orchestration.State.Etcd;

/// <summary>Between the store's types and etcd's protocol types.</summary>
internal static class EtcdConversions
{
    public static ByteString Bytes(string key) => ByteString.CopyFromUtf8(key);

    public static StateKeyValue? ToStateKeyValue(Mvccpb.KeyValue? kv) =>
        kv is null
            ? null
            : new StateKeyValue
            {
                Key = kv.Key.ToStringUtf8(),
                Value = kv.Value.ToByteArray(),
                CreateRevision = kv.CreateRevision,
                ModRevision = kv.ModRevision,
                Version = kv.Version,
                Lease = kv.Lease,
            };

    /// <summary>etcd's range end for "every key with this prefix": the prefix with its last byte incremented.</summary>
    public static ByteString PrefixEnd(string prefix)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(prefix);
        for (var i = bytes.Length - 1; i >= 0; i--)
        {
            if (bytes[i] < 0xFF)
            {
                bytes[i]++;
                return ByteString.CopyFrom(bytes, 0, i + 1);
            }
        }

        // An empty prefix, or one of only 0xFF bytes: to the end of the keyspace.
        return ByteString.CopyFrom(0);
    }
}
