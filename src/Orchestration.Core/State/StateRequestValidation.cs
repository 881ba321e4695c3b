using System.Text;

namespace Orchestration.State;

/// <summary>The argument checks every store applies before touching its data.</summary>
public static class StateRequestValidation
{
    /// <summary>Throws <see cref="InvalidStateRequestException"/> unless <paramref name="key"/> is a usable key.</summary>
    public static void ValidateKey(string? key, int maxKeyBytes, string parameterName = "key")
    {
        if (string.IsNullOrEmpty(key))
        {
            throw new InvalidStateRequestException(parameterName, "a key must not be empty.");
        }

        ValidateKeyText(key, maxKeyBytes, parameterName);
    }

    /// <summary>Like <see cref="ValidateKey"/>, but an empty prefix (the whole keyspace) is allowed.</summary>
    public static void ValidatePrefix(string? prefix, int maxKeyBytes, string parameterName = "prefix")
    {
        if (prefix is null)
        {
            throw new InvalidStateRequestException(parameterName, "a prefix must not be null; use an empty string for every key.");
        }

        ValidateKeyText(prefix, maxKeyBytes, parameterName);
    }

    /// <summary>Throws unless the value fits the size limit.</summary>
    public static void ValidateValue(ReadOnlyMemory<byte> value, int maxValueBytes)
    {
        if (value.Length > maxValueBytes)
        {
            throw new InvalidStateRequestException("value", $"the value is {value.Length} bytes; the limit is {maxValueBytes} bytes.");
        }
    }

    /// <summary>Throws unless the revision is 0 (newest) or positive.</summary>
    public static void ValidateRevision(long revision, string parameterName = "revision")
    {
        if (revision < 0)
        {
            throw new InvalidStateRequestException(parameterName, $"a revision cannot be negative (got {revision}).");
        }
    }

    /// <summary>Throws unless the TTL is positive.</summary>
    public static void ValidateTtl(TimeSpan ttl)
    {
        if (ttl <= TimeSpan.Zero)
        {
            throw new InvalidStateRequestException("ttl", $"a lease TTL must be positive (got {ttl}).");
        }
    }

    /// <summary>Throws unless the range request is well formed.</summary>
    public static void ValidateRange(RangeRequest? request, int maxKeyBytes)
    {
        if (request is null)
        {
            throw new InvalidStateRequestException("request", "a range request is required.");
        }

        ValidatePrefix(request.Prefix, maxKeyBytes, "request.Prefix");
        ValidateRevision(request.Revision, "request.Revision");
        if (request.Limit < 0)
        {
            throw new InvalidStateRequestException("request.Limit", $"a limit cannot be negative (got {request.Limit}).");
        }

        if (request.StartAfter is not null)
        {
            ValidateKeyText(request.StartAfter, maxKeyBytes, "request.StartAfter");
        }
    }

    /// <summary>Throws unless the watch request is well formed: a key (or a prefix, which may be empty) and a non-negative revision.</summary>
    public static void ValidateWatch(WatchRequest? request, int maxKeyBytes)
    {
        if (request is null)
        {
            throw new InvalidStateRequestException("request", "a watch request is required.");
        }

        if (request.Prefix)
        {
            ValidatePrefix(request.Key, maxKeyBytes, "request.Key");
        }
        else
        {
            ValidateKey(request.Key, maxKeyBytes, "request.Key");
        }

        if (request.AfterRevision is { } after)
        {
            ValidateRevision(after, "request.AfterRevision");
        }
    }

    /// <summary>Throws unless a put's key, value and lease are well formed.</summary>
    public static void ValidateWrite(string key, ReadOnlyMemory<byte> value, long lease, StateStoreOptions options)
    {
        ValidateKey(key, options.MaxKeyBytes);
        ValidateValue(value, options.MaxValueBytes);
        if (lease < 0)
        {
            throw new InvalidStateRequestException(nameof(lease), $"a lease id is 0 (none) or positive (got {lease}).");
        }
    }

    /// <summary>Throws unless an update's expected mod revision is positive.</summary>
    public static void ValidateUpdatePrecondition(long expectedModRevision)
    {
        if (expectedModRevision <= 0)
        {
            throw new InvalidStateRequestException(nameof(expectedModRevision), $"an update needs the mod revision last read, a positive number (got {expectedModRevision}); use CreateAsync for a key that does not exist.");
        }
    }

    /// <summary>Throws unless a delete's expected mod revision is 0 (any) or positive.</summary>
    public static void ValidateDeletePrecondition(long expectedModRevision)
    {
        if (expectedModRevision < 0)
        {
            throw new InvalidStateRequestException(nameof(expectedModRevision), $"the expected mod revision is 0 (any) or positive (got {expectedModRevision}).");
        }
    }

    private static void ValidateKeyText(string key, int maxKeyBytes, string parameterName)
    {
        foreach (var c in key)
        {
            // Control characters are refused so that key + "\0" is always the next possible key,
            // which is how paged reads continue after a key.
            if (char.IsControl(c))
            {
                throw new InvalidStateRequestException(parameterName, $"the key '{Printable(key)}' holds the control character U+{(int)c:X4}; keys are printable text.");
            }
        }

        if (Encoding.UTF8.GetByteCount(key) > maxKeyBytes)
        {
            throw new InvalidStateRequestException(parameterName, $"the key is longer than {maxKeyBytes} UTF-8 bytes.");
        }
    }

    private static string Printable(string key)
    {
        var shown = key.Length > 64 ? key[..64] + "..." : key;
        return new string(shown.Select(c => char.IsControl(c) ? '?' : c).ToArray());
    }
}
