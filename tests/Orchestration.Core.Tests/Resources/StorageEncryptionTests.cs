using System.Text;
using System.Text.Json.Nodes;
using k8s.Models;
using Orchestration.Client;
using Orchestration.Resources;
using Orchestration.Resources.Encryption;
using Orchestration.State;

namespace Orchestration.Core.Tests.Resources;

/// <summary>Objects at rest under an EncryptionConfiguration: ciphertext in the store, rotation by rewriting, clear errors.</summary>
[Trait("Category", "Unit")]
public sealed class StorageEncryptionTests
{
    private const string Key1 = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI="; // 32 bytes
    private const string Key2 = "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWY="; // 32 bytes

    [Theory]
    [InlineData("aesgcm")]
    [InlineData("aescbc")]
    public void A_value_is_stored_as_ciphertext_under_its_provider_prefix_and_reads_back(string provider)
    {
        var encryption = Configuration($$$"""{"{{{provider}}}":{"keys":[{"name":"key1","secret":"{{{Key1}}}"}]}}""");
        var plain = Encoding.UTF8.GetBytes("""{"data":{"password":"c2VjcmV0"}}""");

        var stored = encryption.ToStorage("/registry/core/secrets/team/db", plain);

        Encoding.ASCII.GetString(stored).Should().StartWith($"k8s:enc:{provider}:v1:key1:");
        Encoding.UTF8.GetString(stored).Should().NotContain("c2VjcmV0").And.NotContain("password");
        encryption.FromStorage("/registry/core/secrets/team/db", stored).ToArray().Should().Equal(plain);
        encryption.ToStorage("/registry/core/configmaps/team/db", plain).Should().Equal(plain, "resources not listed are stored as they are");
    }

    [Fact]
    public void An_aesgcm_value_moved_to_another_key_or_altered_does_not_decrypt()
    {
        var encryption = Configuration($$$"""{"aesgcm":{"keys":[{"name":"key1","secret":"{{{Key1}}}"}]}}""");
        var stored = encryption.ToStorage("/registry/core/secrets/team/db", Encoding.UTF8.GetBytes("{}"));

        ((Action)(() => encryption.FromStorage("/registry/core/secrets/team/other", stored))).Should().Throw<StoreCorruptException>("the store key is authenticated data");
        stored[^1] ^= 1;
        ((Action)(() => encryption.FromStorage("/registry/core/secrets/team/db", stored))).Should().Throw<StoreCorruptException>()
            .WithMessage("the value at /registry/core/secrets/team/db is encrypted with a key this server's encryption configuration does not hold");
    }

    [Fact]
    public void A_new_key_first_writes_with_it_and_still_reads_the_old_one()
    {
        var before = Configuration($$$"""{"aesgcm":{"keys":[{"name":"key1","secret":"{{{Key1}}}"}]}}""");
        var after = Configuration($$$"""{"aesgcm":{"keys":[{"name":"key2","secret":"{{{Key2}}}"},{"name":"key1","secret":"{{{Key1}}}"}]}}""");
        var withoutOld = Configuration($$$"""{"aesgcm":{"keys":[{"name":"key2","secret":"{{{Key2}}}"}]}}""");
        var old = before.ToStorage("/registry/core/secrets/a/b", Encoding.UTF8.GetBytes("{\"v\":1}"));

        Encoding.UTF8.GetString(after.FromStorage("/registry/core/secrets/a/b", old).Span).Should().Be("{\"v\":1}");
        Encoding.ASCII.GetString(after.ToStorage("/registry/core/secrets/a/b", [1, 2])).Should().StartWith("k8s:enc:aesgcm:v1:key2:");
        ((Action)(() => withoutOld.FromStorage("/registry/core/secrets/a/b", old))).Should().Throw<StoreCorruptException>("the old key was dropped before everything was rewritten");
    }

    [Fact]
    public void Identity_first_stores_plain_and_still_reads_what_was_encrypted()
    {
        var encrypting = Configuration($$$"""{"aesgcm":{"keys":[{"name":"key1","secret":"{{{Key1}}}"}]}}""");
        var decrypting = Configuration($$$"""{"identity":{}},{"aesgcm":{"keys":[{"name":"key1","secret":"{{{Key1}}}"}]}}""");
        var stored = encrypting.ToStorage("/registry/core/secrets/a/b", Encoding.UTF8.GetBytes("{}"));

        decrypting.ToStorage("/registry/core/secrets/a/b", Encoding.UTF8.GetBytes("{}")).Should().Equal(Encoding.UTF8.GetBytes("{}"));
        Encoding.UTF8.GetString(decrypting.FromStorage("/registry/core/secrets/a/b", stored).Span).Should().Be("{}");
    }

    [Theory]
    [InlineData("""{"aesgcm":{"keys":[{"name":"k","secret":"not base64!"}]}}""", "resources[0].providers[0].aesgcm.keys[0].secret: must be base64")]
    [InlineData("""{"aesgcm":{"keys":[{"name":"k","secret":"c2hvcnQ="}]}}""", "resources[0].providers[0].aesgcm.keys[0]: needs a name without ':' and a base64 secret of 16, 24 or 32 bytes")]
    [InlineData("""{"kms":{}}""", "resources[0].providers[0]: unsupported provider \"kms\" (aesgcm, aescbc or identity)")]
    [InlineData("""{"aesgcm":{"keys":[]}}""", "resources[0].providers[0].aesgcm.keys: at least one key is required")]
    public void An_invalid_configuration_says_where(string provider, string message)
    {
        ((Action)(() => Configuration(provider))).Should().Throw<FormatException>().WithMessage(message);
    }

    [Fact]
    public async Task The_registry_stores_secrets_encrypted_reads_them_and_moves_them_to_a_new_key_when_rewritten()
    {
        var store = new InMemoryStateStore(new StateStoreOptions { CompactionInterval = null });
        var kinds = ResourceKindTable.CreateDefault();
        var first = new LocalClusterClient(new ObjectRegistry(store, kinds, TimeProvider.System) { Encryption = Configuration($$$"""{"aesgcm":{"keys":[{"name":"key1","secret":"{{{Key1}}}"}]}}""") });
        await first.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "team" } });
        await first.CreateAsync(new V1Secret { Metadata = new V1ObjectMeta { Name = "db", NamespaceProperty = "team" }, StringData = new Dictionary<string, string> { ["password"] = "hunter2-hunter2" } });

        var raw = Encoding.UTF8.GetString((await store.GetAsync("/registry/core/secrets/team/db", 0))!.Value.Span);
        raw.Should().StartWith("k8s:enc:aesgcm:v1:key1:").And.NotContain("hunter2").And.NotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes("hunter2-hunter2")));
        Encoding.UTF8.GetString((await first.GetAsync<V1Secret>("team", "db")).Data["password"]).Should().Be("hunter2-hunter2");

        // Rotation: a server with the new key first reads the old value, and a rewrite moves it.
        var second = new LocalClusterClient(new ObjectRegistry(store, kinds, TimeProvider.System)
        {
            Encryption = Configuration($$$"""{"aesgcm":{"keys":[{"name":"key2","secret":"{{{Key2}}}"},{"name":"key1","secret":"{{{Key1}}}"}]}}"""),
        });
        var secret = await second.GetAsync<V1Secret>("team", "db");
        await second.UpdateAsync(secret);
        Encoding.ASCII.GetString((await store.GetAsync("/registry/core/secrets/team/db", 0))!.Value.Span).Should().StartWith("k8s:enc:aesgcm:v1:key2:");
        Encoding.UTF8.GetString((await second.GetAsync<V1Secret>("team", "db")).Data["password"]).Should().Be("hunter2-hunter2");
    }

    private static StorageEncryption Configuration(string providers) =>
        StorageEncryption.FromConfiguration(JsonNode.Parse($$"""{"apiVersion":"apiserver.config.k8s.io/v1","kind":"EncryptionConfiguration","resources":[{"resources":["secrets"],"providers":[{{providers}}]}]}""")!.AsObject());
}
