package dev.gradsentry.api;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.gradsentry.config.GradSentryConfig;
import dev.gradsentry.core.InvalidSettingException;
import dev.gradsentry.training.RunRegistry;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.TrainingSetup;
import jakarta.inject.Singleton;
import jakarta.validation.ConstraintViolation;
import jakarta.validation.Validator;
import jakarta.ws.rs.core.Response;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.Set;

/**
 * The run file ({@code gradsentry.run-file}, or its JSON itself in {@code gradsentry.run}): a JSON document, or a YAML
 * one when the file's name ends in {@code .yaml} or {@code .yml}, with exactly the fields {@code POST /api/runs} takes,
 * read with the same mapper and rules, and started at boot. What would be a 400 problem for the request stops the
 * start with one line: the key, the file, the problem's detail, field and fix included, and the line and column
 * where the parser saw it, when it did.
 */
@Singleton
public class RunFile {

    static final String KEY = "gradsentry.run-file";
    static final String INLINE_KEY = "gradsentry.run";

    private final ObjectMapper json;
    /** The JSON mapper's rules (StrictJson) over a YAML parser; repeated keys are refused as in JSON. */
    private final ObjectMapper yaml;
    private final Validator validator;
    private final ProblemMappers problems = new ProblemMappers();

    public RunFile(ObjectMapper json, Validator validator) {
        this.json = json;
        this.yaml = json.copyWith(YAMLFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build());
        this.validator = validator;
    }

    /** The run at boot, from {@code gradsentry.run-file} or {@code gradsentry.run}; empty when neither is set. */
    Optional<Source> source(GradSentryConfig config) {
        if (config.runFile().isPresent() && config.run().isPresent()) {
            throw new InvalidConfigException(INLINE_KEY, "give " + KEY + " or " + INLINE_KEY + ", not both");
        }
        if (config.run().isPresent()) {
            return Optional.of(new Source(INLINE_KEY, "the run", config.run().get().getBytes(StandardCharsets.UTF_8),
                    false));
        }
        if (config.runFile().isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(file(config.runFile().get()));
    }

    /** The run file {@code file}: YAML when its name ends in {@code .yaml} or {@code .yml}, else JSON. */
    Source file(Path file) {
        try {
            return new Source(KEY, file.toString(), Files.readAllBytes(file), yaml(file));
        } catch (IOException e) {
            String why = e instanceof java.nio.file.NoSuchFileException ? "no such file"
                    : e instanceof java.nio.file.AccessDeniedException ? "permission denied" : e.getMessage();
            throw new InvalidConfigException(KEY, file + " cannot be read (" + why + "); point " + KEY
                    + " (GRADSENTRY_RUN_FILE) at a readable JSON or YAML file");
        }
    }

    /** A run file is YAML when its name says so; anything else is read as JSON. */
    static boolean yaml(Path file) {
        String name = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        return name.endsWith(".yaml") || name.endsWith(".yml");
    }

    /** Where the run came from: the key that set it, its name in messages, its text, and whether that is YAML. */
    record Source(String key, String name, byte[] text, boolean yaml) {
    }

    /** A run read from its source, its model and data checked, ready to start. */
    record Prepared(Source source, RunSpec spec, TrainingSetup setup) {
    }

    /**
     * The source's run: its fields, model and data checked as for {@code POST /api/runs}, before the service logs
     * anything, so that a problem is the one line the start ends with.
     */
    Prepared read(Source source, RunRegistry runs) {
        byte[] bytes = source.text();
        try {
            RunRequest request = (source.yaml() ? yaml : json).readValue(bytes, RunRequest.class);
            if (request == null) {
                throw new InvalidSettingException(null, "the file is empty; write at least {\"model\": "
                        + "\"model.json\", \"data\": {\"train\": \"train.csv\", \"task\": \"classification\"}}");
            }
            Set<ConstraintViolation<RunRequest>> invalid = validator.validate(request);
            if (!invalid.isEmpty()) {
                ConstraintViolation<RunRequest> first = invalid.iterator().next();
                throw new InvalidSettingException(first.getPropertyPath().toString(), first.getPropertyPath() + " "
                        + first.getMessage());
            }
            RunSpec spec = request.toSpec(json, runs::batchesPerEpoch);
            return new Prepared(source, spec, runs.prepare(spec));
        } catch (IOException | RuntimeException e) {
            throw invalid(source, e);
        }
    }

    void start(RunRegistry runs, Prepared run) {
        runs.start(run.spec(), run.setup());
    }

    private InvalidConfigException invalid(Source source, Exception e) {
        Response answer = e instanceof InvalidSettingException s ? problems.invalidSetting(s)
                : e instanceof JsonProcessingException j ? problems.json(j) : null;
        if (answer == null) {
            if (e instanceof RuntimeException r) {
                throw r;
            }
            return new InvalidConfigException(source.key(), source.name() + ": " + e.getMessage());
        }
        Problem p = (Problem) answer.getEntity();
        // The problem's words are the REST body's, which is JSON; YAML's parser quotes the text over several lines.
        String detail = (source.yaml() ? p.detail().replace("JSON", "YAML") : p.detail())
                .replaceAll("\\s*\\R\\s*", " ").strip();
        JsonLocation at = e instanceof JsonProcessingException j ? j.getLocation() : null;
        return new InvalidConfigException(source.key(), source.name() + (at == null || at.getLineNr() < 1 ? ""
                : " line " + at.getLineNr() + ", column " + at.getColumnNr()) + ": " + detail + (p.field() == null
                || p.detail().contains(p.field()) ? "" : " (field " + p.field() + ")"));
    }
}
