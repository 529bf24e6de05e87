package dev.gradsentry.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
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
 * The run file ({@code gradsentry.run-file}, or its JSON itself in {@code gradsentry.run}): a JSON document with exactly the fields {@code POST /api/runs} takes,
 * read with the same mapper and rules, and started at boot. What would be a 400 problem for the request stops the
 * start with one line: the key, the file, and the problem's detail, field and fix included.
 */
@Singleton
public class RunFile {

    static final String KEY = "gradsentry.run-file";
    static final String INLINE_KEY = "gradsentry.run";

    private final ObjectMapper json;
    private final Validator validator;
    private final ProblemMappers problems = new ProblemMappers();

    public RunFile(ObjectMapper json, Validator validator) {
        this.json = json;
        this.validator = validator;
    }

    /** The run at boot, from {@code gradsentry.run-file} or {@code gradsentry.run}; empty when neither is set. */
    Optional<Source> source(GradSentryConfig config) {
        if (config.runFile().isPresent() && config.run().isPresent()) {
            throw new InvalidConfigException(INLINE_KEY, "give " + KEY + " or " + INLINE_KEY + ", not both");
        }
        if (config.run().isPresent()) {
            return Optional.of(new Source(INLINE_KEY, "the run", config.run().get().getBytes(StandardCharsets.UTF_8)));
        }
        if (config.runFile().isEmpty()) {
            return Optional.empty();
        }
        Path file = config.runFile().get();
        try {
            return Optional.of(new Source(KEY, file.toString(), Files.readAllBytes(file)));
        } catch (IOException e) {
            String why = e instanceof java.nio.file.NoSuchFileException ? "no such file"
                    : e instanceof java.nio.file.AccessDeniedException ? "permission denied" : e.getMessage();
            throw new InvalidConfigException(KEY, file + " cannot be read (" + why + "); point " + KEY
                    + " (GRADSENTRY_RUN_FILE) at a readable JSON file");
        }
    }

    /** Where the run came from: the key that set it, its name in messages, and its JSON. */
    record Source(String key, String name, byte[] json) {
    }

    /** A run read from its source, its model and data checked, ready to start. */
    record Prepared(Source source, RunSpec spec, TrainingSetup setup) {
    }

    /**
     * The source's run: its fields, model and data checked as for {@code POST /api/runs}, before the service logs
     * anything, so that a problem is the one line the start ends with.
     */
    Prepared read(Source source, RunRegistry runs) {
        byte[] bytes = source.json();
        try {
            RunRequest request = json.readValue(bytes, RunRequest.class);
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
        return new InvalidConfigException(source.key(), source.name() + ": " + p.detail() + (p.field() == null
                || p.detail().contains(p.field()) ? "" : " (field " + p.field() + ")"));
    }
}
