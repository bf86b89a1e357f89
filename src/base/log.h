/* log.h: leveled logging to stderr, one line per call, thread-safe. Never pass secrets. */
#ifndef M2M_BASE_LOG_H
#define M2M_BASE_LOG_H

enum m2m_log_level { M2M_LOG_DEBUG = 0, M2M_LOG_INFO, M2M_LOG_WARN, M2M_LOG_ERROR, M2M_LOG_OFF };

void m2m_log_set_level(enum m2m_log_level lvl);
enum m2m_log_level m2m_log_get_level(void);
/* Parses "debug", "info", "warn", "error", "off"; returns -1 when unknown. */
int m2m_log_level_parse(const char *s);
void m2m_log(enum m2m_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (m2m_log_get_level() <= M2M_LOG_DEBUG)                                                  \
            m2m_log(M2M_LOG_DEBUG, __VA_ARGS__);                                                   \
    } while (0)
#define log_info(...) m2m_log(M2M_LOG_INFO, __VA_ARGS__)
#define log_warn(...) m2m_log(M2M_LOG_WARN, __VA_ARGS__)
#define log_error(...) m2m_log(M2M_LOG_ERROR, __VA_ARGS__)

#endif
