using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Orchestration.State;

namespace Orchestration.Resources.Encryption;

/// <summary>
/// Encryption of objects at rest, as kube-apiserver's <c>EncryptionConfiguration</c> describes it:
/// for each listed resource, the first provider encrypts what is written and every provider is
/// tried on what is read (by the prefix the stored value carries), so a new key is put first, the
/// old one kept after it, and rewriting the objects moves them to the new key. Providers:
/// <c>aesgcm</c> (AES-GCM, a random 96-bit nonce, the store key as authenticated data),
/// <c>aescbc</c> (AES-CBC with PKCS#7 padding and a random IV) and <c>identity</c> (plain).
/// Stored values read <c>k8s:enc:aesgcm:v1:KEYNAME:</c> followed by the ciphertext.
/// </summary>
public sealed class StorageEncryption
{
    private const string Prefix = "k8s:enc:";
    private readonly Dictionary<string, Provider[]> _byResource;

    private StorageEncryption(Dictionary<string, Provider[]> byResource) => _byResource = byResource;

    /// <summary>No encryption: every object is stored as it is.</summary>
    public static StorageEncryption None { get; } = new([]);

    /// <summary>Whether any resource is encrypted.</summary>
    public bool Enabled => _byResource.Count > 0;

    /// <summary>
    /// Reads an <c>EncryptionConfiguration</c> (apiserver.config.k8s.io/v1), given as a JSON object
    /// (a YAML file parsed). Resources are named <c>secrets</c> or <c>RESOURCE.GROUP</c>.
    /// </summary>
    /// <exception cref="FormatException">The configuration is not valid; the message says where.</exception>
    public static StorageEncryption FromConfiguration(JsonObject configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        if (configuration["kind"]?.ToString() != "EncryptionConfiguration")
        {
            throw new FormatException("the encryption configuration's kind must be EncryptionConfiguration");
        }

        var byResource = new Dictionary<string, Provider[]>(StringComparer.Ordinal);
        var entries = configuration["resources"] as JsonArray ?? throw new FormatException("resources: the encryption configuration lists no resources");
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i] as JsonObject ?? throw new FormatException($"resources[{i}]: must be an object");
            var providers = (entry["providers"] as JsonArray ?? []).Select((p, j) => ProviderOf(p as JsonObject, $"resources[{i}].providers[{j}]")).ToArray();
            if (providers.Length == 0)
            {
                throw new FormatException($"resources[{i}].providers: at least one provider is required");
            }

            foreach (var resource in entry["resources"] as JsonArray ?? [])
            {
                var name = resource?.ToString() ?? "";
                if (name.Length == 0 || !byResource.TryAdd(name, providers))
                {
                    throw new FormatException($"resources[{i}].resources: \"{name}\" is empty or listed twice");
                }
            }
        }

        return new StorageEncryption(byResource);
    }

    /// <summary>The bytes to store at <paramref name="storeKey"/> for <paramref name="plain"/>.</summary>
    public byte[] ToStorage(string storeKey, byte[] plain)
    {
        ArgumentNullException.ThrowIfNull(storeKey);
        ArgumentNullException.ThrowIfNull(plain);
        return ProvidersFor(storeKey) is { } providers ? providers[0].Encrypt(plain, storeKey) : plain;
    }

    /// <summary>The object bytes a stored value at <paramref name="storeKey"/> holds.</summary>
    /// <exception cref="StoreCorruptException">No configured provider can read the value (a key that was removed, or tampering).</exception>
    public ReadOnlyMemory<byte> FromStorage(string storeKey, ReadOnlyMemory<byte> stored)
    {
        ArgumentNullException.ThrowIfNull(storeKey);
        if (!stored.Span.StartsWith(Encoding.ASCII.GetBytes(Prefix)))
        {
            // Plain JSON: written before encryption was configured, or by the identity provider.
            return stored;
        }

        foreach (var provider in ProvidersFor(storeKey) ?? [])
        {
            if (provider.TryDecrypt(stored.Span, storeKey) is { } plain)
            {
                return plain;
            }
        }

        throw new StoreCorruptException($"the value at {storeKey} is encrypted with a key this server's encryption configuration does not hold");
    }

    private Provider[]? ProvidersFor(string storeKey)
    {
        // /registry/<group>/<resource>/...: the core group is "core" in keys, absent in the configuration's names.
        var parts = storeKey.Split('/', 4, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 3)
        {
            return null;
        }

        var name = parts[1] == "core" ? parts[2] : $"{parts[2]}.{parts[1]}";
        return _byResource.GetValueOrDefault(name) ?? _byResource.GetValueOrDefault("*.*");
    }

    private static Provider ProviderOf(JsonObject? provider, string at)
    {
        if (provider is null || provider.Count != 1)
        {
            throw new FormatException($"{at}: must name exactly one provider (aesgcm, aescbc or identity)");
        }

        var (type, settings) = provider.First();
        if (type == "identity")
        {
            return new IdentityProvider();
        }

        if (type is not ("aesgcm" or "aescbc"))
        {
            throw new FormatException($"{at}: unsupported provider \"{type}\" (aesgcm, aescbc or identity)");
        }

        var keys = (settings?["keys"] as JsonArray ?? []).Select((k, n) =>
        {
            var name = k?["name"]?.ToString() ?? "";
            byte[] secret;
            try
            {
                secret = Convert.FromBase64String(k?["secret"]?.ToString() ?? "");
            }
            catch (FormatException)
            {
                throw new FormatException($"{at}.{type}.keys[{n}].secret: must be base64");
            }

            if (name.Length == 0 || name.Contains(':', StringComparison.Ordinal) || secret.Length is not (16 or 24 or 32))
            {
                throw new FormatException($"{at}.{type}.keys[{n}]: needs a name without ':' and a base64 secret of 16, 24 or 32 bytes");
            }

            return (name, secret);
        }).ToList();
        if (keys.Count == 0)
        {
            throw new FormatException($"{at}.{type}.keys: at least one key is required");
        }

        return type == "aesgcm" ? new AesGcmProvider(keys) : new AesCbcProvider(keys);
    }

    private abstract class Provider
    {
        public abstract byte[] Encrypt(byte[] plain, string storeKey);

        public abstract byte[]? TryDecrypt(ReadOnlySpan<byte> stored, string storeKey);
    }

    private sealed class IdentityProvider : Provider
    {
        public override byte[] Encrypt(byte[] plain, string storeKey) => plain;

        public override byte[]? TryDecrypt(ReadOnlySpan<byte> stored, string storeKey) => null;
    }

    // The keys of an AES provider: the first encrypts, each is found by the name in the prefix.
    private abstract class AesProvider(string type, List<(string Name, byte[] Secret)> keys) : Provider
    {
        public override byte[] Encrypt(byte[] plain, string storeKey)
        {
            var (name, secret) = keys[0];
            var prefix = Encoding.ASCII.GetBytes($"{Prefix}{type}:v1:{name}:");
            return [.. prefix, .. Seal(secret, plain, storeKey)];
        }

        public override byte[]? TryDecrypt(ReadOnlySpan<byte> stored, string storeKey)
        {
            foreach (var (name, secret) in keys)
            {
                var prefix = Encoding.ASCII.GetBytes($"{Prefix}{type}:v1:{name}:");
                if (stored.StartsWith(prefix))
                {
                    return Open(secret, stored[prefix.Length..], storeKey);
                }
            }

            return null;
        }

        protected abstract byte[] Seal(byte[] secret, byte[] plain, string storeKey);

        protected abstract byte[]? Open(byte[] secret, ReadOnlySpan<byte> sealedValue, string storeKey);
    }

    private sealed class AesGcmProvider(List<(string Name, byte[] Secret)> keys) : AesProvider("aesgcm", keys)
    {
        protected override byte[] Seal(byte[] secret, byte[] plain, string storeKey)
        {
            var sealedValue = new byte[AesGcm.NonceByteSizes.MaxSize + plain.Length + AesGcm.TagByteSizes.MaxSize];
            var nonce = sealedValue.AsSpan(0, AesGcm.NonceByteSizes.MaxSize);
            RandomNumberGenerator.Fill(nonce);
            using var aes = new AesGcm(secret, AesGcm.TagByteSizes.MaxSize);
            aes.Encrypt(nonce, plain, sealedValue.AsSpan(nonce.Length, plain.Length), sealedValue.AsSpan(nonce.Length + plain.Length), Encoding.UTF8.GetBytes(storeKey));
            return sealedValue;
        }

        protected override byte[]? Open(byte[] secret, ReadOnlySpan<byte> sealedValue, string storeKey)
        {
            var nonceSize = AesGcm.NonceByteSizes.MaxSize;
            var tagSize = AesGcm.TagByteSizes.MaxSize;
            if (sealedValue.Length < nonceSize + tagSize)
            {
                return null;
            }

            var plain = new byte[sealedValue.Length - nonceSize - tagSize];
            using var aes = new AesGcm(secret, tagSize);
            try
            {
                aes.Decrypt(sealedValue[..nonceSize], sealedValue[nonceSize..^tagSize], sealedValue[^tagSize..], plain, Encoding.UTF8.GetBytes(storeKey));
                return plain;
            }
            catch (AuthenticationTagMismatchException)
            {
                // Another key of the same name, a value moved to another key, or tampering.
                return null;
            }
        }
    }

    private sealed class AesCbcProvider(List<(string Name, byte[] Secret)> keys) : AesProvider("aescbc", keys)
    {
        protected override byte[] Seal(byte[] secret, byte[] plain, string storeKey)
        {
            using var aes = Aes.Create();
            aes.Key = secret;
            var iv = RandomNumberGenerator.GetBytes(16);
            return [.. iv, .. aes.EncryptCbc(plain, iv, PaddingMode.PKCS7)];
        }

        protected override byte[]? Open(byte[] secret, ReadOnlySpan<byte> sealedValue, string storeKey)
        {
            if (sealedValue.Length < 32 || sealedValue.Length % 16 != 0)
            {
                return null;
            }

            using var aes = Aes.Create();
            aes.Key = secret;
            try
            {
                return aes.DecryptCbc(sealedValue[16..], sealedValue[..16], PaddingMode.PKCS7);
            }
            catch (CryptographicException)
            {
                return null;
            }
        }
    }
}
